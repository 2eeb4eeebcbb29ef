"""Shared fixtures. Tests never touch the network: the hub is offline and every test gets an
empty weights cache unless it asks for the tiny diffusion model."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from restoration import engine  # noqa: E402


@pytest.fixture(autouse=True)
def empty_weights_cache(tmp_path_factory, monkeypatch):
    """Every test starts with no weights on the machine and no engine loaded."""
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(tmp_path_factory.mktemp("empty-cache")))
    engine.reset_engine()
    yield
    engine.reset_engine()


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    """A hub cache holding a tiny random SD inpainting model and a tiny LCM-LoRA."""
    from tiny_models import save_lora_to_hub_cache, save_to_hub_cache, tiny_inpaint_pipeline

    cache = tmp_path_factory.mktemp("tiny-hub-cache")
    pipeline = tiny_inpaint_pipeline()
    save_to_hub_cache(pipeline, cache)
    save_lora_to_hub_cache(pipeline.unet, cache)
    return cache


@pytest.fixture
def tiny_weights(tiny_cache, monkeypatch):
    """Point the resolver at the tiny model's cache."""
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(tiny_cache))
    return tiny_cache


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """The app served on 127.0.0.1 on a free port, in this process; yields its URL."""
    import app

    demo = app.build_demo()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True)
    yield url
    demo.close()
