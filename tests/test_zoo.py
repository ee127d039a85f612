"""The model zoo: publishing a real `wgen fit` checkpoint, loading it back, hash checks, remote
files served over HTTP on 127.0.0.1, the cache, and the `wgen zoo` command."""

import http.server
import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from lightning_wgen.cli import main as wgen
from lightning_wgen.data import ToyDataModule
from lightning_wgen.errors import ChecksumError, ConfigError, DownloadError, ModelNotFoundError
from lightning_wgen.models import AdversarialModule
from lightning_wgen.zoo import (
    Manifest,
    add_critic,
    download,
    list_models,
    load_pretrained,
    model_info,
    publish,
    verify,
)
from lightning_wgen.zoo.files import file_sha256, parse_hf_reference
from lightning_wgen.zoo.weights import export_state, to_safetensors

NAME = "wgan-gp-grid25-test"
STEPS = 30


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A checkpoint of a real `wgen fit` run: WGAN-GP with an EMA generator on grid25."""
    root = tmp_path_factory.mktemp("fit")
    wgen([
        "fit",
        "--config", "configs/wgan_gp/toy.yaml",
        f"--model.init_args.max_generator_steps={STEPS}",
        "--model.init_args.ema_decay=0.9",
        "--model.init_args.generator.init_args.hidden_features=64",
        "--model.init_args.critic.init_args.hidden_features=64",
        "--trainer.callbacks=[]",
        "--trainer.enable_progress_bar=false",
        f"--trainer.logger.init_args.save_dir={root}",
    ])  # fmt: skip
    (ckpt,) = root.glob("**/checkpoints/*.ckpt")
    return ckpt


@pytest.fixture(scope="module")
def published(trained, tmp_path_factory) -> Path:
    """A manifest with the trained model published into it (2 seeds of 500 samples)."""
    path = tmp_path_factory.mktemp("zoo") / "manifest.json"
    publish(trained, NAME, manifest=path, seeds=(0, 1), num_samples=500, train_command="cmd")
    return path


def original(ckpt: Path) -> AdversarialModule:
    return AdversarialModule.load_from_checkpoint(ckpt, weights_only=True).eval()


def copy_manifest(published: Path, folder: Path, **changes) -> Path:
    """The published manifest in ``folder``, its entry changed by ``changes``."""
    manifest = Manifest.read(published)
    manifest.path = folder / "manifest.json"
    manifest.models[NAME] = replace(manifest.models[NAME], **changes)
    manifest.write()
    return manifest.path


def test_publish_then_load_gives_identical_samples(trained, published):
    model = load_pretrained(NAME, manifest=published)
    reference = original(trained)
    assert not model.training and model.generator_steps == 0
    assert torch.equal(model.sample(256, seed=3), reference.sample(256, seed=3))
    # ema=False samples from the trained generator's own weights, which differ from the EMA's
    raw = load_pretrained(NAME, manifest=published, ema=False)
    assert torch.equal(raw.sample(256, seed=3), reference.sample(256, seed=3, ema=False))
    assert not torch.equal(raw.sample(256, seed=3), model.sample(256, seed=3))


def test_a_gan_is_published_with_its_critic_for_refined_sampling(trained, published):
    model = load_pretrained(NAME, manifest=published, critic=True)
    reference = original(trained)
    assert model.untrained_networks == []
    mine, theirs = model.critic.state_dict(), reference.critic.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    real = ToyDataModule("grid25").sample(500, seed=7)
    assert torch.equal(
        model.sample(64, seed=2, refine="drs", real=real),
        reference.sample(64, seed=2, refine="drs", real=real),
    )


def test_a_gan_published_without_its_critic_gets_one_fitted_to_its_generator(
    published, tmp_path, capsys, monkeypatch
):
    # the zoo's first files held only the generator: make such an entry from the test model
    model = load_pretrained(NAME, manifest=published)
    data = to_safetensors(export_state(model), Manifest.read(published).entry(NAME).config, NAME)
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(data)
    path = copy_manifest(
        published, tmp_path, file=bare.name, sha256=file_sha256(bare), size=len(data)
    )
    with pytest.raises(ConfigError, match=f"zoo model {NAME} was published without its critic"):
        load_pretrained(NAME, manifest=path, critic=True)
    # loaded plainly it samples, but refuses to refine with its untrained critic, in one line
    bare_model = load_pretrained(NAME, manifest=path)
    assert bare_model.untrained_networks == ["critic"]
    with pytest.raises(ConfigError, match="refine='dot' needs the trained critic"):
        bare_model.sample(10, refine="dot")
    monkeypatch.setenv("WGEN_MANIFEST", str(path))
    with pytest.raises(SystemExit) as refused:
        wgen(["sample", "--model", NAME, "--refine", "dot", "--out", str(tmp_path / "r.npy")])
    assert refused.value.code == (
        f"wgen: error: --refine needs the run's trained critic, and --model {NAME} holds only "
        f"what sampling needs; fit one with `wgen zoo add-critic {NAME}`."
    )

    with pytest.raises(SystemExit) as done:
        wgen(["zoo", "--manifest", str(path), "add-critic", NAME, "--steps", "300"])
    assert done.value.code == 0 and f"{NAME}: critic fitted in 300 steps" in capsys.readouterr().out
    entry = Manifest.read(path).entry(NAME)
    assert entry.file == f"{NAME}-{entry.sha256[:8]}.safetensors" and entry.size > len(data)
    assert entry.extra["critic"]["steps"] == 300
    assert not (tmp_path / "bare.safetensors").exists()
    refined = load_pretrained(NAME, manifest=path, critic=True)
    assert torch.equal(refined.sample(256, seed=3), model.sample(256, seed=3))
    # the fitted critic scores the data above the 30-step generator's samples
    real = ToyDataModule("grid25").sample(1000, seed=7)
    with torch.no_grad():
        gap = refined.critic(real).mean() - refined.critic(model.sample(1000, seed=1)).mean()
    assert gap > 0.5 * entry.extra["critic"]["w_estimate"] > 0
    with pytest.raises(ConfigError, match="already has its critic.*--refit trains it further"):
        add_critic(NAME, manifest=path, steps=10)
    with pytest.raises(ConfigError, match="penalty must be a positive weight.*got -1"):
        add_critic(NAME, manifest=path, steps=10, penalty=-1.0, refit=True)
    # `wgen sample` refines a zoo name with its critic; DRS calibrates on the entry's data set
    out = tmp_path / "drs.npy"
    wgen(["sample", "--model", NAME, "--refine", "drs", "--n", "300", "--out", str(out)])
    real = ToyDataModule("grid25").sample(2000, seed=7)
    expected = refined.sample(300, seed=0, refine="drs", real=real)
    np.testing.assert_allclose(np.load(out), expected.numpy(), atol=1e-6)


def test_a_published_critic_is_refitted_with_a_gradient_penalty(published, tmp_path):
    entry = Manifest.read(published).entry(NAME)
    shutil.copy(published.parent / entry.file, tmp_path / entry.file)
    path = copy_manifest(published, tmp_path)
    before = load_pretrained(NAME, manifest=path, critic=True)
    refitted = add_critic(NAME, manifest=path, steps=200, penalty=10.0, refit=True)
    about = refitted.extra["critic"]
    assert about["objective"].startswith("WGAN-GP's, penalty 10") and about["steps"] == 200
    assert refitted.sha256 != entry.sha256 and not (tmp_path / entry.file).exists()
    after = load_pretrained(NAME, manifest=path, critic=True)
    assert torch.equal(after.sample(256, seed=3), before.sample(256, seed=3))  # generator kept
    critic_before, critic_after = before.critic.state_dict(), after.critic.state_dict()
    assert any(not torch.equal(critic_before[k], critic_after[k]) for k in critic_before)
    # the penalised critic still scores the data above the 30-step generator's samples
    real = ToyDataModule("grid25").sample(1000, seed=7)
    with torch.no_grad():
        gap = after.critic(real).mean() - after.critic(after.sample(1000, seed=1)).mean()
    assert gap > 0.5 * about["w_estimate"] > 0


def test_manifest_entry_says_what_the_file_is(trained, published):
    info = model_info(NAME, manifest=published)
    path = published.parent / info["file"]
    assert info["file"] == f"{NAME}-{info['sha256'][:8]}.safetensors"
    assert info["sha256"] == file_sha256(path) and info["size"] == path.stat().st_size
    assert (info["family"], info["dataset"], info["resolution"]) == (
        "WGANGP",
        "grid25",
        "2-d points",
    )
    assert info["config"]["_class_path"] == "lightning_wgen.models.WGANGP"
    assert info["config"]["ema_decay"] == 0.9
    assert info["data"]["_class_path"] == "lightning_wgen.data.ToyDataModule"
    assert info["training"]["command"] == "cmd"
    assert info["training"]["generator_steps"] == STEPS and info["training"]["seconds"] > 0
    assert info["protocol"]["seeds"] == [0, 1] and info["protocol"]["num_samples"] == 500
    assert set(info["metrics"]) == {"modes", "high_quality", "w1_exact"}
    assert len(info["metrics"]["w1_exact"]["per_seed"]) == 2
    assert info["reference"]["modes"] == 25 and info["reference"]["w1_exact"] < 0.4
    assert info["library_version"] and info["date"] and "synthetic" in info["data_licence"]
    # the file alone says what it is: safetensors metadata; a GAN's critic travels with it
    with safe_open(str(path), framework="pt") as f:
        about = json.loads(f.metadata()["wgen"])
        keys = list(f.keys())
    assert about["name"] == NAME and about["config"] == info["config"]
    assert keys and [k for k in keys if k.startswith("critic.")]
    assert any(k.startswith("generator_ema.") for k in keys)
    assert list_models(manifest=published) == [NAME]
    assert list_models("*mnist*", manifest=published) == []


def test_published_metrics_are_the_models(trained, published):
    """The stated toy metrics are those of the checkpoint's EMA generator, seed by seed."""
    from lightning_wgen.data import ToyDataModule
    from lightning_wgen.metrics import exact_w1

    info = model_info(NAME, manifest=published)
    data = ToyDataModule("grid25")
    fake = original(trained).sample(500, seed=1)
    expected = exact_w1(fake, data.sample(500, seed=2))
    assert info["metrics"]["w1_exact"]["per_seed"][1] == pytest.approx(expected, rel=1e-12)


def test_tampered_local_file_is_refused_and_left_for_its_owner(published, tmp_path):
    manifest = copy_manifest(published, tmp_path)
    file = published.parent / model_info(NAME, manifest=published)["file"]
    data = bytearray(file.read_bytes())
    data[-1] ^= 1
    (tmp_path / file.name).write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        load_pretrained(NAME, manifest=manifest)
    message = str(err.value)
    assert "sha256" in message and "left it untouched" in message and "\n" not in message
    assert (tmp_path / file.name).read_bytes() == bytes(data)


def test_two_writers_of_one_manifest_keep_each_others_entries(published, tmp_path):
    # `wgen zoo add-critic` read the manifest, a `wgen zoo publish` added an entry meanwhile,
    # and add-critic's write dropped it. Each write now changes its own entry of the file.
    path = shutil.copy(published, tmp_path / "manifest.json")
    first, second = Manifest.read(path), Manifest.read(path)  # both read before either writes
    entry = first.entry(NAME)
    first.save_entry("copy-grid25-a", replace(entry))
    second.save_entry("copy-grid25-b", replace(entry, size=entry.size + 1))
    final = Manifest.read(path)
    assert {NAME, "copy-grid25-a", "copy-grid25-b"} <= set(final.names())
    assert final.entry("copy-grid25-b").size == entry.size + 1
    assert set(second.names()) == set(final.names())  # the writer holds the file's entries


def test_unknown_name_lists_close_names(published):
    with pytest.raises(ModelNotFoundError, match="did you mean wgan-gp-grid25-test"):
        load_pretrained("wgan-gp-grid52-test", manifest=published)
    with pytest.raises(ModelNotFoundError, match="known: wgan-gp-grid25-test"):
        load_pretrained("vae-celeba", manifest=published)


def test_config_may_only_name_library_classes(published, tmp_path):
    config = dict(model_info(NAME, manifest=published)["config"])
    config["_class_path"] = "os.system"
    manifest = copy_manifest(published, tmp_path, config=config)
    with pytest.raises(ConfigError, match="names the class 'os.system'"):
        load_pretrained(NAME, manifest=manifest)


def config_file(published: Path) -> str:
    return model_info(NAME, manifest=published)["file"]


# -- remote files --------------------------------------------------------------------------------


class Server:
    """An HTTP server on 127.0.0.1 serving ``files`` (name -> bytes); ``truncate`` names files
    sent with their full Content-Length but only half their bytes."""

    def __init__(self, files: dict[str, bytes], truncate: tuple[str, ...] = ()) -> None:
        self.files, self.truncate, self.requests = files, truncate, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                name = self.path.lstrip("/")
                server.requests.append(name)
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if name in server.truncate else data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def remote(published, tmp_path, monkeypatch):
    """The published model served over HTTP, with ``$WGEN_HOME`` in ``tmp_path``."""
    monkeypatch.setenv("WGEN_HOME", str(tmp_path / "home"))
    file = published.parent / config_file(published)
    server = Server({"good": file.read_bytes(), "short": file.read_bytes()}, truncate=("short",))
    yield server
    server.close()


def remote_manifest(published, folder: Path, url: str) -> Path:
    manifest = Manifest.read(published)
    manifest.models[NAME] = replace(manifest.models[NAME], file=None, url=url)
    manifest.path = folder / "remote" / "manifest.json"
    manifest.write()
    return manifest.path


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "home").rglob("*"))


def test_remote_file_downloads_verifies_and_caches(published, remote, tmp_path, trained):
    manifest = remote_manifest(published, tmp_path, remote.url("good"))
    model = load_pretrained(NAME, manifest=manifest)
    assert torch.equal(model.sample(64, seed=0), original(trained).sample(64, seed=0))
    assert remote.requests == ["good"]
    sha256 = model_info(NAME, manifest=manifest)["sha256"]
    cached = tmp_path / "home" / "checkpoints" / f"{NAME}-{sha256[:12]}.safetensors"
    assert cache_files(tmp_path) == [cached.parent, cached]
    load_pretrained(NAME, manifest=manifest)  # from the cache: no second request
    assert verify(NAME, manifest=manifest) == sha256
    assert remote.requests == ["good"]

    # a cached file damaged later is refused and deleted; the next load fetches it again
    cached.write_bytes(cached.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ChecksumError, match="deleted it"):
        load_pretrained(NAME, manifest=manifest)
    assert not cached.exists()
    assert download(NAME, manifest=manifest) == cached
    assert remote.requests == ["good", "good"]


def test_truncated_download_leaves_no_file(published, remote, tmp_path):
    manifest = remote_manifest(published, tmp_path, remote.url("short"))
    with pytest.raises((ChecksumError, DownloadError)) as err:
        load_pretrained(NAME, manifest=manifest)
    assert "\n" not in str(err.value)
    assert [p for p in cache_files(tmp_path) if p.is_file()] == []


def test_replaced_remote_file_is_refused_and_not_kept(published, remote, tmp_path):
    remote.files["good"] = remote.files["good"][:-1] + b"\x00"
    manifest = remote_manifest(published, tmp_path, remote.url("good"))
    with pytest.raises(ChecksumError, match="nothing was kept"):
        load_pretrained(NAME, manifest=manifest)
    assert [p for p in cache_files(tmp_path) if p.is_file()] == []


def test_missing_remote_file_is_one_line(published, remote, tmp_path):
    manifest = remote_manifest(published, tmp_path, remote.url("absent"))
    with pytest.raises(DownloadError, match="could not download .*: HTTP 404 Not Found; check"):
        load_pretrained(NAME, manifest=manifest)


def test_hugging_face_references():
    assert parse_hf_reference("hf://me/models/zoo/wgan.safetensors@v1") == (
        "me/models",
        "zoo/wgan.safetensors",
        "v1",
    )
    assert parse_hf_reference("hf://me/models/wgan.safetensors") == (
        "me/models",
        "wgan.safetensors",
        None,
    )
    with pytest.raises(ConfigError, match="write hf://owner/repo/path"):
        parse_hf_reference("hf://me/wgan.safetensors")


def test_hugging_face_without_its_package_says_how_to_get_it(published, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "huggingface_hub", None)
    manifest = remote_manifest(published, tmp_path, "hf://me/models/wgan.safetensors@v1")
    with pytest.raises(ConfigError, match="pip install huggingface_hub"):
        load_pretrained(NAME, manifest=manifest)


# -- publishing refusals and the command line -----------------------------------------------------


def test_publish_refuses_a_file_above_the_size_limit(trained, tmp_path):
    path = tmp_path / "manifest.json"
    with pytest.raises(ConfigError, match=r"would be 0\.\d MB, above the zoo's 0\.01 MB"):
        publish(trained, "wgan-gp-grid25", manifest=path, max_megabytes=0.01)
    assert list(tmp_path.iterdir()) == []


def test_publish_refuses_bad_names(trained, tmp_path):
    with pytest.raises(ConfigError, match="<family>-<dataset>"):
        publish(trained, "My Model", manifest=tmp_path / "manifest.json")


def test_command_line(published, tmp_path, capsys):
    manifest = copy_manifest(published, tmp_path)
    file = config_file(published)
    (tmp_path / file).write_bytes((published.parent / file).read_bytes())
    with pytest.raises(SystemExit) as done:
        wgen(["zoo", "--manifest", str(manifest), "list"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith(NAME)
    with pytest.raises(SystemExit) as done:
        wgen(["zoo", "--manifest", str(manifest), "verify", "--metrics"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "sha256" in out and out.count(": ok") == 3

    # a stated metric the model does not reproduce fails verification
    entry = Manifest.read(manifest).models[NAME]
    entry.metrics["w1_exact"]["mean"] += 10 * entry.metrics["w1_exact"]["std"] + 0.1
    copy_manifest(manifest, tmp_path, metrics=entry.metrics)
    with pytest.raises(SystemExit) as done:
        wgen(["zoo", "--manifest", str(manifest), "verify", NAME, "--metrics"])
    assert done.value.code == 1 and "w1_exact" in capsys.readouterr().out

    with pytest.raises(SystemExit) as done:
        wgen(["zoo", "--manifest", str(manifest), "info", "wgan-gp-grid"])
    assert done.value.code == (
        f"wgen: error: no model 'wgan-gp-grid' in the zoo ({manifest}); did you mean {NAME}?"
    )


def test_verify_one_seed_compares_with_that_seeds_value(published):
    from lightning_wgen.zoo import measure_again

    entry = model_info(NAME, manifest=published)
    result = measure_again(NAME, manifest=published, seeds=(1,))
    stated, measured, ok = result["w1_exact"]
    assert stated["mean"] == entry["metrics"]["w1_exact"]["per_seed"][1]
    assert measured["mean"] == pytest.approx(stated["mean"], rel=1e-12) and ok
    with pytest.raises(ConfigError, match=r"seeds \[7\] have no stated values"):
        measure_again(NAME, manifest=published, seeds=(7,))


def test_init_from_in_python_needs_the_callback_that_loads_it(tmp_path):
    from helpers import quiet_trainer

    from lightning_wgen.callbacks import InitFromWeights
    from lightning_wgen.cli import build_from_config

    args = (
        "--model.init_args.init_from=zoo:wgan-gp-grid25",
        "--model.init_args.max_generator_steps=1",
        "--model.init_args.generator_optimizer.init_args.lr=0.0",  # the generator stays as loaded
    )
    model, data = build_from_config(Path(__file__).parents[1] / "configs/quickstart.yaml", *args)
    with pytest.raises(ConfigError, match="add lightning_wgen.callbacks.InitFromWeights"):
        quiet_trainer(default_root_dir=tmp_path, policies=False).fit(model, data)  # never silently
    model, data = build_from_config(Path(__file__).parents[1] / "configs/quickstart.yaml", *args)
    quiet_trainer(default_root_dir=tmp_path, callbacks=[InitFromWeights()]).fit(model, data)
    zoo = load_pretrained("wgan-gp-grid25")
    assert model.weights_from == "zoo:wgan-gp-grid25" and model.generator_steps == 1
    for name, value in zoo.generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[name], value), name
