"""The OpenAI-compatible embedder against Trove's own embeddings server on loopback, and that server's protocol."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from embed_server import serving
from starlette.applications import Starlette

from trove_common.errors import mapping_for
from trove_common.offload import ModelExecutor
from trove_common.settings import EmbedderSettings
from trove_ml import TextEmbedder
from trove_ml.embed_server import Traffic, create_app
from trove_ml.embedders import make_embedder, open_embedder
from trove_ml.errors import MediaError, ProviderSettingError, ProviderUnavailableError
from trove_ml.offloaded import OffloadedTextEmbedder
from trove_ml.openai_embedder import OPENAI_EMBEDDINGS, OpenAIEmbedder

KEY = "sk-test-" + "k" * 32
MODEL = TextEmbedder.model_name
SETTING = "TROVE_ANALYSIS_EMBEDDER__"
TEXTS = ["a cat on the sofa", "the weather report", "a rocket launch", "coffee menu prices", "a sleepy dog"]


@pytest.fixture(scope="module")
def model() -> TextEmbedder:
    return TextEmbedder()


@pytest.fixture(scope="module")
def executor() -> Iterator[ModelExecutor]:
    pool = ModelExecutor(threads=1, name="test-embed-server")
    yield pool
    pool.shutdown()


@pytest.fixture
def app(model: TextEmbedder, executor: ModelExecutor) -> Starlette:
    return create_app(model, executor=executor, api_key=KEY)


@pytest.fixture
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


def _traffic(app: Starlette) -> Traffic:
    traffic: Traffic = app.state.traffic
    return traffic


Client = Callable[..., OpenAIEmbedder]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """Makes embedders (base URL, then OpenAIEmbedder's options over the test defaults); closes them after."""
    made: list[OpenAIEmbedder] = []

    def make(base_url: str, **kwargs: object) -> OpenAIEmbedder:
        options: dict[str, object] = {"base_url": base_url, "model": MODEL, "api_key": KEY, "setting": SETTING}
        made.append(OpenAIEmbedder(**(options | kwargs)))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for embedder in made:
        await embedder.close()


async def test_batches_match_the_local_model_and_report_tokens(
    client: Client, app: Starlette, base_url: str, model: TextEmbedder
) -> None:
    embedder = client(base_url, batch_size=2)
    vectors, usage = await embedder.embed_metered(TEXTS)
    assert embedder.dim == 384 and vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, model.embed(TEXTS), atol=1e-5)
    # One probe request learnt the size, then 2 + 2 + 1 inputs.
    assert _traffic(app).inputs == [1, 2, 2, 1]
    assert usage is not None and usage.service == OPENAI_EMBEDDINGS
    assert usage.units == sum(model.count_tokens(TEXTS)) > len(TEXTS)
    assert embedder.provider == f"openai/{MODEL}" and embedder.model_name == MODEL


async def test_dimensions_shorten_and_renormalise(client: Client, base_url: str, model: TextEmbedder) -> None:
    embedder = client(base_url, dimensions=128)
    await embedder.probe()  # nothing to learn: no request
    vectors = await embedder.embed(TEXTS[:2])
    assert embedder.dim == 128 and vectors.shape == (2, 128) and embedder.provider == f"openai/{MODEL}/128"
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    full = model.embed(TEXTS[:2])[:, :128]
    np.testing.assert_allclose(vectors, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5)


async def test_base64_and_float_answers_carry_the_same_vectors(base_url: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        floats = (await http.post("/embeddings", json={"model": MODEL, "input": "a cat"})).json()
        packed = (
            await http.post("/embeddings", json={"model": MODEL, "input": ["a cat"], "encoding_format": "base64"})
        ).json()
    assert floats["object"] == "list" and floats["model"] == MODEL
    assert floats["data"][0]["object"] == "embedding" and floats["data"][0]["index"] == 0
    assert floats["usage"]["prompt_tokens"] == floats["usage"]["total_tokens"] > 0
    decoded = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, np.asarray(floats["data"][0]["embedding"], dtype=np.float32), atol=1e-7)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": []}, "input"),
        ({"input": ""}, "input"),
        ({"input": [[1, 2, 3]]}, "input"),
        ({"input": ["x"] * 2049}, "input"),
        ({"input": "x", "dimensions": 385}, "dimensions"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ],
)
async def test_bad_requests_get_a_clear_400(base_url: str, body: dict[str, object], param: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        response = await http.post("/embeddings", json={"model": MODEL, **body})
        not_json = await http.post("/embeddings", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["param"] == param, response.text
    assert not_json.status_code == 400


async def test_throttled_calls_are_retried_by_the_sdk(
    client: Client, model: TextEmbedder, executor: ModelExecutor, tmp_path: Path
) -> None:
    app = create_app(model, executor=executor, api_key=KEY, throttle_first=3)
    async with serving(app) as url:
        embedder = client(url, dimensions=384, max_retries=3)
        vectors = await embedder.embed(TEXTS[:1])
        assert vectors.shape == (1, 384) and _traffic(app).refused == 3 and _traffic(app).served == 1
        _traffic(app).throttle = 5  # more than the retries: a transient failure, the stage is tried again later
        with pytest.raises(ProviderUnavailableError, match="429") as raised:
            await client(url, dimensions=384, max_retries=1).embed(TEXTS[:1])
        assert not isinstance(raised.value, MediaError)
        assert mapping_for(raised.value).grpc_code == grpc.StatusCode.UNAVAILABLE


async def test_a_wrong_key_or_model_fails_for_good_naming_the_setting(client: Client, base_url: str) -> None:
    with pytest.raises(ProviderSettingError, match=f"{SETTING}API_KEY") as bad_key:
        await client(base_url, api_key="sk-wrong").embed(TEXTS[:1])
    assert "401" in str(bad_key.value) and isinstance(bad_key.value, MediaError)  # the stage fails, no retry
    assert mapping_for(bad_key.value).http_status == 503  # a search that needs it: the service is misconfigured
    with pytest.raises(ProviderSettingError, match=f"{SETTING}MODEL") as bad_model:
        await client(base_url, model="text-embedding-9-huge").embed(TEXTS[:1])
    assert "404" in str(bad_model.value)
    with pytest.raises(ProviderUnavailableError):  # nobody listening: worth another try
        await client("http://127.0.0.1:9/v1", max_retries=0).embed(TEXTS[:1])
    async with httpx.AsyncClient(base_url=base_url) as http:
        unauthorised = await http.get("/models")
    assert unauthorised.status_code == 401 and unauthorised.json()["error"]["code"] == "invalid_api_key"


async def test_open_embedder_builds_either_provider(base_url: str, executor: ModelExecutor) -> None:
    local = await open_embedder(EmbedderSettings(), executor=executor, setting=SETTING)
    assert isinstance(local, OffloadedTextEmbedder) and local.provider == f"local/{MODEL}"
    assert (await local.embed_metered(["a cat"]))[1] is None
    remote = await open_embedder(
        EmbedderSettings(provider="openai", base_url=base_url + "/", model=MODEL, api_key=KEY, batch_size=3),
        executor=executor,
        setting=SETTING,
    )
    assert isinstance(remote, OpenAIEmbedder) and remote.dim == 384 and remote.base_url == base_url
    vectors, usage = await remote.embed_metered(TEXTS)
    np.testing.assert_allclose(vectors, (await local.embed(TEXTS)), atol=1e-5)
    assert usage is not None and usage.units > 0
    await remote.close()
    # Built without a call (the analysis worker starts with its server down): the size comes with the first call.
    lazy = make_embedder(
        EmbedderSettings(provider="openai", base_url="http://127.0.0.1:9/v1"), executor=executor, setting=SETTING
    )
    assert isinstance(lazy, OpenAIEmbedder) and lazy.dim == 0
    await lazy.close()
    with pytest.raises(ValueError, match="http"):
        EmbedderSettings(provider="openai", base_url="api.openai.com")
