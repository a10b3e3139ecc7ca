"""Request bodies of ``POST /v1/chat/completions``: each bad field answers its own error."""

import base64

import pytest

from mmf_imgtune.inference.server.openai_request import ApiError, parse_request

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


def body(**changes):
    parts = [{"type": "image_url", "image_url": {"url": PNG, "boxes": [[1, 2, 3, 4]]}},
             {"type": "text", "text": "what colour?"}]  # fmt: skip
    return {"model": "m", "messages": [{"role": "user", "content": parts}], **changes}


def error_of(value, folder=None, max_bytes=1000):
    with pytest.raises(ApiError) as caught:
        parse_request(value, "m", max_bytes, folder)
    return caught.value


def test_a_good_body_parses_into_what_the_pipeline_needs():
    request = parse_request(body(max_tokens=5, temperature=0.7, seed=3, stream=True), "m", 1000,
                            None)  # fmt: skip
    assert request.image == b"\x89PNG fake" and request.boxes == [[1, 2, 3, 4]]
    assert request.messages == [{"role": "user", "content": "what colour?"}]
    assert (request.max_tokens, request.temperature, request.seed, request.stream) == (
        5, 0.7, 3, True)  # fmt: skip
    assert parse_request(body(max_completion_tokens=7), "m", 1000, None).max_tokens == 7


@pytest.mark.parametrize(
    "change, status, param",
    [
        ({"model": "x"}, 404, "model"),
        ({"n": 2}, 400, "n"),
        ({"top_p": 0.5}, 400, "top_p"),
        ({"max_tokens": 0}, 400, "max_tokens"),
        ({"max_tokens": 2.5}, 400, "max_tokens"),
        ({"temperature": "hot"}, 400, "temperature"),
        ({"seed": -1}, 400, "seed"),
        ({"stream": "yes"}, 400, "stream"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 400, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "no image"}]}, 400, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, 400,
         "messages[0].content[0].type"),
    ],
)  # fmt: skip
def test_each_bad_field_is_named(change, status, param):
    error = error_of(body(**change))
    assert (error.status, error.param) == (status, param)
    assert error.body()["error"]["param"] == param and error.body()["error"]["message"]


def test_images_one_per_conversation_data_urls_or_allowed_files(tmp_path):
    two = body()
    two["messages"][0]["content"].append(two["messages"][0]["content"][0])
    assert error_of(two).param == "messages[0].content[2]"
    url = "messages[0].content[0].image_url.url"
    for bad in ("https://example.org/x.png", str(tmp_path / "x.png"), "data:image/png,abc"):
        remote = body()
        remote["messages"][0]["content"][0]["image_url"]["url"] = bad
        assert error_of(remote).param == url
    big = body()
    big["messages"][0]["content"][0]["image_url"]["url"] = "data:image/png;base64," + "A" * 4000
    assert (error_of(big).status, error_of(big).param) == (413, url)
    inside = tmp_path / "x.png"
    inside.write_bytes(b"png")
    allowed = body()
    allowed["messages"][0]["content"][0]["image_url"]["url"] = f"file://{inside}"
    assert parse_request(allowed, "m", 1000, tmp_path).image == str(inside)
    assert error_of(allowed, folder=tmp_path / "elsewhere").param == url


def test_the_last_message_must_be_the_users():
    value = body()
    value["messages"].append({"role": "assistant", "content": "red"})
    assert error_of(value).param == "messages[1].role"
    assert parse_request(value, "m", 1000, None, last_role="assistant").messages[-1] == {
        "role": "assistant", "content": "red"}  # fmt: skip
