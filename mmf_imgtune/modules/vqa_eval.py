"""The official VQA evaluation (Antol et al. 2015; the VQA v2 ``vqaEval.py``): answer
normalisation and accuracy. The one answer normaliser of the code base.

- ``normalize_answer``: the official ``processPunctuation`` then ``processDigitArticle`` (MMF's
  ``EvalAIAnswerProcessor`` and lmms-eval apply the same rules): punctuation is deleted where
  it touches a space (or anywhere once the text holds a digit-comma-digit) and otherwise
  becomes a space; periods go unless a digit follows ("3.5" stays); then lower case, number
  words as digits ("two" -> "2", "none" -> "0"), articles dropped, contractions restored
  ("dont" -> "don't").
- ``leave_one_out_accuracy``: with the 10 annotator answers, the mean over the 10 subsets of 9
  of ``min(1, matches / 3)``: 1 match scores 0.3, 2 score 0.6, 3 score 0.9, 4 or more 1.0.
  MMF's soft scores (``VQAAnswerProcessor.compute_answers_scores``) are the same numbers.
- Questions with fewer than 10 answers (shapes, a jsonl folder) have no official score (one
  answer left out of one leaves nothing): they score ``exact match``, 1 when the normalised
  prediction equals any normalised reference, else 0. ``score_rule`` names the rule used.
"""

from __future__ import annotations

import re
from collections import Counter

OFFICIAL_ANSWERS = 10
RULE_OFFICIAL = "official VQA leave-one-out over 10 answers"
RULE_EXACT = "exact match against any reference (fewer than 10 answers)"

NUMBER_MAP = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = [
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",",
    "?", "!",
]  # fmt: skip
_COMMA_BETWEEN_DIGITS = re.compile(r"(\d)(,)(\d)")
# A period not followed by a digit. The official pattern starts with "(?!<=\d)", a lookahead
# that never fails (meant as a lookbehind), and passes re.UNICODE (32) as the count: kept.
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_PERIOD_COUNT = 32

# The official table, as written there: the keys are what annotators type without the
# apostrophe, plus a few half-written forms. Keys with capitals ("Im", "Ive") never match,
# as in the official script, since words are lower-cased first.
_CONTRACTION_PAIRS = """
aint ain't|arent aren't|cant can't|couldve could've|couldnt couldn't|couldn'tve couldn't've
couldnt've couldn't've|didnt didn't|doesnt doesn't|dont don't|hadnt hadn't|hadnt've hadn't've
hadn'tve hadn't've|hasnt hasn't|havent haven't|hed he'd|hed've he'd've|he'dve he'd've|hes he's
howd how'd|howll how'll|hows how's|Id've I'd've|I'dve I'd've|Im I'm|Ive I've|isnt isn't|itd it'd
itd've it'd've|it'dve it'd've|itll it'll|let's let's|maam ma'am|mightnt mightn't
mightnt've mightn't've|mightn'tve mightn't've|mightve might've|mustnt mustn't|mustve must've
neednt needn't|notve not've|oclock o'clock|oughtnt oughtn't|ow's'at 'ow's'at|'ows'at 'ow's'at
'ow'sat 'ow's'at|shant shan't|shed've she'd've|she'dve she'd've|she's she's|shouldve should've
shouldnt shouldn't|shouldnt've shouldn't've|shouldn'tve shouldn't've|somebody'd somebodyd
somebodyd've somebody'd've|somebody'dve somebody'd've|somebodyll somebody'll
somebodys somebody's|someoned someone'd|someoned've someone'd've|someone'dve someone'd've
someonell someone'll|someones someone's|somethingd something'd|somethingd've something'd've
something'dve something'd've|somethingll something'll|thats that's|thered there'd
thered've there'd've|there'dve there'd've|therere there're|theres there's|theyd they'd
theyd've they'd've|they'dve they'd've|theyll they'll|theyre they're|theyve they've|twas 'twas
wasnt wasn't|wed've we'd've|we'dve we'd've|weve we've|werent weren't|whatll what'll
whatre what're|whats what's|whatve what've|whens when's|whered where'd|wheres where's
whereve where've|whod who'd|whod've who'd've|who'dve who'd've|wholl who'll|whos who's
whove who've|whyll why'll|whyre why're|whys why's|wont won't|wouldve would've
wouldnt wouldn't|wouldnt've wouldn't've|wouldn'tve wouldn't've|yall y'all|yall'll y'all'll
y'allll y'all'll|yall'd've y'all'd've|y'alld've y'all'd've|y'all'dve y'all'd've|youd you'd
youd've you'd've|you'dve you'd've|youll you'll|youre you're|youve you've
"""
CONTRACTIONS = dict(
    pair.split(" ") for pair in _CONTRACTION_PAIRS.replace("\n", "|").split("|") if pair
)


def _process_punctuation(text: str) -> str:
    out = text
    digit_comma = _COMMA_BETWEEN_DIGITS.search(text) is not None
    for mark in PUNCTUATION:
        # Tested against the input text, as the official script does.
        touches_space = mark + " " in text or " " + mark in text
        out = out.replace(mark, "" if touches_space or digit_comma else " ")
    return _PERIOD.sub("", out, count=_PERIOD_COUNT)


def _process_digit_article(text: str) -> str:
    words = [NUMBER_MAP.get(word, word) for word in text.lower().split()]
    return " ".join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)


def normalize_answer(answer: str) -> str:
    """The official VQA normalisation: ``"Two dogs."`` -> ``"2 dogs"``, ``"dont"`` ->
    ``"don't"``, ``"1,000"`` -> ``"1000"``, ``"3.5"`` -> ``"3.5"``."""
    text = str(answer).replace("\n", " ").replace("\t", " ").strip()
    return _process_digit_article(_process_punctuation(text))


def leave_one_out_accuracy(matches: int, num_answers: int = OFFICIAL_ANSWERS) -> float:
    """Mean over the ``num_answers`` leave-one-out subsets of ``min(1, matches in subset / 3)``
    for an answer that ``matches`` of the annotators gave."""
    if not 0 <= matches <= num_answers or num_answers < 1:
        raise ValueError(f"{matches} matching answers of {num_answers}: need 0 <= matches <= n")
    # Leaving out one of the matching answers leaves matches - 1; any other leaves matches.
    total = matches * min(1.0, (matches - 1) / 3) + (num_answers - matches) * min(1.0, matches / 3)
    return total / num_answers


def score_rule(num_answers: int) -> str:
    """The rule that scores a question with that many reference answers."""
    return RULE_OFFICIAL if num_answers == OFFICIAL_ANSWERS else RULE_EXACT


def answer_scores(answers: list[str]) -> dict[str, float]:
    """Every distinct normalised answer's score against the question's answers (MMF's soft
    scores for 10 answers; 1.0 each under exact match)."""
    counts = Counter(normalize_answer(answer) for answer in answers)
    counts.pop("", None)  # an empty answer is no answer
    if len(answers) == OFFICIAL_ANSWERS:
        return {answer: leave_one_out_accuracy(n, len(answers)) for answer, n in counts.items()}
    return {answer: 1.0 for answer in counts}


def vqa_score(prediction: str, references: list[str]) -> float:
    """VQA accuracy of one predicted answer (normalised here) against the references."""
    return answer_scores(references).get(normalize_answer(prediction), 0.0)
