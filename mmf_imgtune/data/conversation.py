"""Multi-turn conversations about an image: LLaVA's format, chat-template rendering, labels.

LLaVA (arXiv 2304.08485) stores a dialogue as ``{"id", "image", "conversations": [{"from":
"human", "value": "<image>\\nWhat is ...?"}, {"from": "gpt", "value": "..."}, ...]}``.
``parse_conversation`` turns that into chat messages (``{"role", "content"}``) and
``ChatRenderer`` renders them with the tokenizer's chat template (or a configured one, or
``DEFAULT_TEMPLATE`` for tokenizers without one) into token ids with:

* the place of ``<image>`` (visual tokens go there, not in front of the text);
* labels on assistant tokens only, up to and including the end-of-turn token (EOS by default),
  and the turn each label belongs to;
* whole-turn truncation: trailing exchanges are dropped until the rest fits, never mid-token.

Rendering is incremental (render messages ``[:k]`` and ``[:k+1]``, take the difference), the
way chat-tuning recipes find the assistant spans; each piece is tokenised on its own, so
training and cached chat serving (``inference/chat.py``) see the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMAGE_TOKEN = "<image>"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
         "system": "system"}  # fmt: skip
# For tokenizers without a chat template (the tiny word-level ones): "user: ..." and
# "assistant: ...<eos>" turns, one a line; plain words, so a word-level vocabulary covers it.
DEFAULT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n"
    "{% elif m['role'] == 'user' %}user: {{ m['content'] }}\n"
    "{% else %}assistant: {{ m['content'] }}{{ eos_token }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


class ConversationError(ValueError):
    """A malformed conversation; the message names the record and the turn."""


def parse_conversation(turns: Any, where: str = "conversation") -> list[dict[str, str]]:
    """LLaVA ``conversations`` (or chat messages) -> ``[{"role", "content"}]``.

    Accepts ``from``/``value`` (LLaVA) or ``role``/``content`` keys; an optional system turn
    first, then user and assistant turns alternating, starting with the user.
    """
    if not isinstance(turns, list) or not turns:
        raise ConversationError(f"{where}: 'conversations' must be a non-empty list of turns")
    messages = []
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise ConversationError(f"{where}: turn {number} is not an object: {turn!r:.60}")
        speaker = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        if speaker not in ROLES or not isinstance(text, str):
            raise ConversationError(
                f"{where}: turn {number} needs 'from' in {sorted(ROLES)} and a string 'value'; "
                f"got from={speaker!r} value={text!r:.40}"
            )
        messages.append({"role": ROLES[speaker], "content": text})
    body = messages[1:] if messages[0]["role"] == "system" else messages
    expected = ["user", "assistant"] * (len(body) // 2 + 1)
    for number, (message, role) in enumerate(zip(body, expected), start=1):
        if message["role"] != role:
            raise ConversationError(
                f"{where}: turn {number + len(messages) - len(body)} is from "
                f"'{message['role']}' where '{role}' was expected (user and assistant alternate)"
            )
    return messages


def with_image(messages: list[dict[str, str]], where: str = "conversation") -> list[dict]:
    """Put ``<image>`` at the start of the first user turn when no turn has it (LLaVA's
    place); more than one ``<image>`` is an error (one image per conversation)."""
    count = sum(m["content"].count(IMAGE_TOKEN) for m in messages)
    if count > 1:
        raise ConversationError(f"{where}: {count} '{IMAGE_TOKEN}' markers; one image a dialogue")
    if count == 1:
        return messages
    out = [dict(m) for m in messages]
    first = next(i for i, m in enumerate(out) if m["role"] == "user")
    out[first]["content"] = f"{IMAGE_TOKEN}\n{out[first]['content']}"
    return out


@dataclass
class Encoded:
    """A rendered conversation. ``ids``/``labels``/``turns`` are text positions (the visual
    tokens are not in them; they go before text position ``image_position``)."""

    ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # -100 except assistant tokens
    turns: list[int] = field(default_factory=list)  # assistant turn (0, 1, ...) or -1
    image_position: int | None = None  # None: no <image> in the conversation
    num_turns: int = 0  # assistant turns rendered
    truncated_turns: int = 0  # assistant turns dropped to fit


class ChatRenderer:
    """Messages -> ``Encoded`` with a chat template.

    Args:
        tokenizer: an HF tokenizer.
        template: a Jinja chat template; None: the tokenizer's own, else ``DEFAULT_TEMPLATE``.
        stop_token: the token that ends an assistant turn (learned, stops generation); None:
            the tokenizer's EOS.
    """

    def __init__(self, tokenizer: Any, template: str | None = None, stop_token: str | None = None):
        self.tokenizer = tokenizer
        self.template = template or getattr(tokenizer, "chat_template", None) or DEFAULT_TEMPLATE
        self.stop_id = (
            tokenizer.convert_tokens_to_ids(stop_token) if stop_token else tokenizer.eos_token_id
        )
        if self.stop_id is None or (stop_token and self.stop_id == tokenizer.unk_token_id):
            raise ValueError(
                f"chat stop_token={stop_token!r} is not a token of the tokenizer (and it has "
                "no eos_token); set chat_template's stop token to one it knows"
            )

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        if not messages:
            return ""
        return self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def pieces(self, messages: list[dict], add_generation_prompt: bool) -> list[tuple[str, int]]:
        """The rendered text cut into ``(text, turn)`` pieces: turn k >= 0 for the answer of
        assistant turn k, -1 for everything else (headers, user turns, system text)."""
        pieces: list[tuple[str, int]] = []
        done, turn = "", 0

        def take(text: str, kind: int) -> None:
            nonlocal done
            if not text.startswith(done):
                raise ConversationError(
                    "the chat template does not render a conversation as a prefix of its "
                    "continuation, so assistant turns cannot be found; configure another "
                    "chat_template"
                )
            pieces.append((text[len(done) :], kind))
            done = text

        for k, message in enumerate(messages):
            if message["role"] == "assistant":
                take(self.render(messages[:k], add_generation_prompt=True), -1)
                take(self.render(messages[: k + 1]), turn)
                turn += 1
            else:
                take(self.render(messages[: k + 1]), -1)
        if add_generation_prompt:
            take(self.render(messages, add_generation_prompt=True), -1)
        return pieces

    def encode(self, messages: list[dict], add_generation_prompt: bool = False) -> Encoded:
        out = Encoded()
        for text, turn in self.pieces(messages, add_generation_prompt):
            if IMAGE_TOKEN in text:
                before, after = text.split(IMAGE_TOKEN, 1)
                self._append(out, before, turn)
                out.image_position = len(out.ids)
                text = after
            self._append(out, text, turn)
        out.num_turns = sum(m["role"] == "assistant" for m in messages)
        return out

    def _append(self, out: Encoded, text: str, turn: int) -> None:
        ids = self._tokens(text)
        if turn < 0:
            out.ids += ids
            out.labels += [-100] * len(ids)
            out.turns += [-1] * len(ids)
            return
        # The answer and its stop token are learned; what the template puts after the stop
        # token (a newline, a separator) is never generated, so it is not.
        if self.stop_id in ids:
            end = ids.index(self.stop_id) + 1
        else:  # a template without an end-of-turn token: add one, or generation never stops
            ids, end = [*ids, self.stop_id], len(ids) + 1
        out.ids += ids
        out.labels += ids[:end] + [-100] * (len(ids) - end)
        out.turns += [turn] * end + [-1] * (len(ids) - end)

    def encode_truncated(self, messages: list[dict], max_length: int) -> Encoded:
        """``encode`` after dropping trailing exchanges (a user turn and its answer) until at
        most ``max_length`` text tokens remain; ``truncated_turns`` counts the dropped answers.

        Raises:
            ConversationError: when even the first exchange is longer than ``max_length``.
        """
        encoded = self.encode(messages)
        total = encoded.num_turns
        while len(encoded.ids) > max_length:
            last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
            if sum(m["role"] == "assistant" for m in messages[:last_user]) == 0:
                raise ConversationError(
                    f"the first exchange alone is {len(encoded.ids)} tokens, more than "
                    f"max_seq_length={max_length}; raise max_seq_length"
                )
            messages = messages[:last_user]
            encoded = self.encode(messages)
        encoded.truncated_turns = total - encoded.num_turns
        return encoded
