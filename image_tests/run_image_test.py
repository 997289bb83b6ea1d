"""`make image-test`: build the connector's Docker image without Docker and run it for real.

Airbyte runs a connector as an image: `docker run IMAGE spec | check | discover | read`. This script
proves the repository's `Dockerfile` (unchanged) builds and that its ENTRYPOINT answers all four
commands against the Qualtrics simulator, with the same assertions as
`integration_tests/test_end_to_end.py` makes about the CLI outside the image.

No Docker engine and no Docker Hub are needed; it runs as root with the package registries only:

1. tools: installs `buildah` and `debootstrap` with apt-get when they are missing.
2. base image: Airbyte's `python-connector-base` lives on Docker Hub, so a stand-in is built and cached
   locally (`localhost/qualtrics-image-test-base:<recipe hash>`): `debootstrap --variant=minbase`
   Debian bookworm (python3 is 3.11, like the real base) from the mirror in the machine's apt sources,
   imported with `buildah from scratch` + `buildah mount` + `buildah commit`, then completed by a small
   Dockerfile that reproduces what the connector's Dockerfile relies on in the real base: `python` and
   `pip` in /usr/local (a venv at /usr/local, so installs land in /usr/local/lib/python3.11), the
   `airbyte` user (uid 1000) owning /airbyte, UTC time zone, PIP_CACHE_DIR.
3. connector image: `buildah bud --isolation chroot --build-arg BASE_IMAGE=<stand-in>` on the repository.
   pip inside the build needs the machine's CA bundle: it is mounted read-only at /host-ca.crt and
   passed as `--build-arg PIP_CERT=/host-ca.crt` (mounting over /etc/ssl/certs would break packages that
   write there). An http(s) index the host's pip is configured with (PIP_INDEX_URL /
   PIP_EXTRA_INDEX_URL or `pip config`) is passed the same way; file:// indexes and find-links are host
   paths the build cannot see and are left out (the build then uses PyPI). Proxy variables of the
   host environment are forwarded as the predefined proxy build args.
4. run: there is no `docker run` (podman's crun refuses on these machines), so the image's own
   ENTRYPOINT is read from `buildah inspect --type image` (JSON `OCIv1.config.Entrypoint`) and executed
   with `buildah run --isolation chroot -v HOST_DIR:/secrets:ro CONTAINER -- <entrypoint...> <command
   args>` in a working container made by `buildah from`. `buildah run` applies the image's user,
   working directory and environment but not its ENTRYPOINT, which is why the entrypoint is prepended
   by hand; chroot isolation shares the host network, so the simulator on 127.0.0.1 is reachable.
   The config, catalog and state files are written to a host folder mounted at /secrets (readable by
   the image's non-root user). Running the connector, starting the simulator and building configs and
   the configured catalog (from the image's own `discover` output) go through `testkit`, as in the
   integration tests.
5. The simulator (`qualtrics-simulator --port 0 --ready-file ...`) runs on the host; the test asserts
   spec (the real spec.json content), check with the right and a wrong token, discover, and an
   incremental read: first without state (every survey's response ids equal the simulator's ground
   truth), then, after adding responses through the simulator's admin API, with the state of the
   first read (exactly the added responses come).

Images live in a storage of their own, /var/lib/qualtrics-image-test (env IMAGE_TEST_STORAGE), with the
vfs driver. The working container and the simulator are removed at the end; the images stay (the base
as a cache, the connector image for inspection). Each step's wall time is printed. `--no-build` reruns
the checks on the image already built; `--rebuild-base` rebuilds the cached stand-in.

    .venv/bin/python -m image_tests.run_image_test [--rebuild-base] [--no-build]   (from the repository root)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from packaging.markers import Marker

from testkit import SIM_TOKEN, Connector, configure, simulator_config, simulator_process
from testkit.locks import LOCKS, normalise, read_lock

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# A storage of its own: vfs works everywhere (no overlay/fuse needed) and cannot clash with the
# driver of an existing /var/lib/containers; inspect with `buildah --root ROOT --storage-driver vfs images`.
STORAGE_ROOT = os.environ.get("IMAGE_TEST_STORAGE", "/var/lib/qualtrics-image-test")
STORAGE = [
    "--root",
    f"{STORAGE_ROOT}/storage",
    "--runroot",
    f"{STORAGE_ROOT}/run",
    "--storage-driver",
    "vfs",
]
IMAGE = "localhost/source-qualtrics:image-test"
BASE_REPO = "localhost/qualtrics-image-test-base"
ROOTFS_REPO = "localhost/qualtrics-image-test-rootfs"
SUITE = "bookworm"  # python3 3.11, the Python minor version of Airbyte's python-connector-base 4.x
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
WRONG_TOKEN = "wrong-token-7d1e"
MOUNT = "/secrets"
SURVEYS = 2
RESPONSES = 200
ADDED = {0: 7, 1: 3}  # survey index -> responses added before the second read

# Completes the debootstrapped root file system into a stand-in for Airbyte's python-connector-base:
# the same paths and user the connector's Dockerfile relies on.
BASE_DOCKERFILE = """\
FROM {rootfs}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 \\
    PIP_CACHE_DIR=/custom_cache/pip
RUN python3 -m venv /usr/local \\
    && ln -snf /usr/share/zoneinfo/Etc/UTC /etc/localtime \\
    && useradd --uid 1000 --system --user-group --no-create-home --shell /usr/sbin/nologin airbyte \\
    && mkdir --mode 755 /custom_cache /airbyte \\
    && chown airbyte:airbyte /airbyte \\
    && python --version && pip --version && test "$(command -v python)" = /usr/local/bin/python
CMD ["python"]
"""
BASE_TAG = hashlib.sha256(f"{SUITE}\n{BASE_DOCKERFILE}".encode()).hexdigest()[:12]


class ImageTestError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------- helpers

TIMINGS: list[tuple[str, float]] = []


@contextmanager
def step(name: str) -> Iterator[None]:
    print(f"\n==> {name}", flush=True)
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        TIMINGS.append((name, elapsed))
        print(f"    ({elapsed:.1f} s)", flush=True)


def sh(args: list[str], *, capture: bool = False, check: bool = True, **kwargs: Any) -> str:
    print("    $ " + shlex.join(args), flush=True)
    completed = subprocess.run(args, text=True, capture_output=capture, check=False, **kwargs)
    if check and completed.returncode != 0:
        detail = (completed.stderr or "")[-3000:] if capture else ""
        raise ImageTestError(f"{args[0]} exited with {completed.returncode}\n{detail}")
    return completed.stdout if capture else ""


def buildah(*args: str, capture: bool = False, check: bool = True) -> str:
    return sh(["buildah", *STORAGE, *args], capture=capture, check=check)


def image_exists(name: str) -> bool:
    probe = subprocess.run(
        ["buildah", *STORAGE, "inspect", "--type", "image", name], capture_output=True, check=False
    )
    return probe.returncode == 0


CHECKS = {"passed": 0, "failed": 0}


def check(condition: bool, message: str, detail: str = "") -> None:
    if not condition:
        CHECKS["failed"] += 1
        raise ImageTestError(f"{message}\n{detail}".rstrip())
    CHECKS["passed"] += 1
    print(f"    ok: {message}", flush=True)


# ----------------------------------------------------------------------------------------------- tools


def ensure_tools() -> None:
    missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
    if not missing:
        print("    buildah and debootstrap are installed")
        return
    if os.geteuid() != 0:
        raise ImageTestError(f"{', '.join(missing)} missing and not root: install them or run as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh(["apt-get", "update", "-q"], env=env)
    sh(["apt-get", "install", "-y", "-q", "--no-install-recommends", "buildah", "debootstrap"], env=env)
    print("    " + sh(["buildah", "--version"], capture=True).strip())


# ------------------------------------------------------------------------------------------ base image


def debian_mirror() -> str:
    """The Debian archive the machine's apt already uses (no host name is kept in the repository)."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"]
    entries: list[tuple[list[str], list[str]]] = []  # (uris, suites)
    sources = Path("/etc/apt")
    for path in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (key.strip().lower(), value.split())
                    for key, _, value in (line.partition(":") for line in stanza.splitlines())
                    if not key.startswith("#") and value
                )
                if "deb" in fields.get("types", []):
                    entries.append((fields.get("uris", []), fields.get("suites", [])))
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line).split()
                if len(parts) >= 3 and parts[0] == "deb":
                    entries.append(([parts[1]], [parts[2]]))
    release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    codename = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', release, re.M)).get("VERSION_CODENAME", SUITE)
    for uris, suites in entries:
        for uri in uris:
            if "security" not in uri and (SUITE in suites or codename in suites):
                return uri
    return "http://deb.debian.org/debian"


def ensure_base_image(rebuild: bool) -> str:
    base = f"{BASE_REPO}:{BASE_TAG}"
    if image_exists(base) and not rebuild:
        print(f"    cached: {base}")
        return base
    rootfs_image = f"{ROOTFS_REPO}:{SUITE}"
    if rebuild or not image_exists(rootfs_image):
        mirror = debian_mirror()
        with tempfile.TemporaryDirectory(prefix="qualtrics-rootfs-", dir="/var/tmp") as tmp:
            target = Path(tmp) / "rootfs"
            sh(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=python3,python3-venv,ca-certificates,tzdata",
                    SUITE,
                    str(target),
                    mirror,
                ],
                capture=True,
            )
            shutil.rmtree(target / "var/cache/apt/archives", ignore_errors=True)
            shutil.rmtree(target / "var/lib/apt/lists", ignore_errors=True)
            container = buildah("from", "scratch", capture=True).strip()
            try:
                mountpoint = buildah("mount", container, capture=True).strip()
                pack = subprocess.Popen(
                    ["tar", "-C", str(target), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE
                )
                sh(["tar", "-C", mountpoint, "--numeric-owner", "-xpf", "-"], stdin=pack.stdout)
                if pack.wait() != 0:
                    raise ImageTestError("tar of the root file system failed")
                buildah("umount", container)
                buildah("commit", "--quiet", "--rm", container, rootfs_image, capture=True)
            except BaseException:
                buildah("rm", container, check=False)
                raise
    with tempfile.TemporaryDirectory(prefix="qualtrics-base-") as context:
        dockerfile = Path(context) / "Dockerfile"
        dockerfile.write_text(BASE_DOCKERFILE.format(rootfs=rootfs_image))
        buildah("bud", "--isolation", "chroot", "--pull=never", "-t", base, "-f", str(dockerfile), context)
    for stale in buildah("images", "--format", "{{.Name}}:{{.Tag}}", capture=True).split():
        if stale.startswith(BASE_REPO + ":") and stale != base:
            buildah("rmi", stale, check=False)
    return base


# ------------------------------------------------------------------------------------- connector image


def pip_setting(name: str) -> str:
    """An index setting of the host's pip: environment first, then `pip config`."""
    env_value = os.environ.get("PIP_" + name.upper().replace("-", "_"), "")
    if env_value:
        return env_value
    for scope in ("global", "install"):
        probe = subprocess.run(
            [str(BIN / "pip"), "config", "get", f"{scope}.{name}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip()
    return ""


def build_args() -> tuple[list[str], list[str]]:
    """(--build-arg ..., -v ...) that give pip inside the build the host's CA bundle, index and proxy."""
    args: list[str] = []
    volumes: list[str] = []
    if HOST_CA.exists():
        volumes += ["-v", f"{HOST_CA}:/host-ca.crt:ro"]
        args += ["--build-arg", "PIP_CERT=/host-ca.crt"]
    for name in ("index-url", "extra-index-url"):
        urls = [u for u in pip_setting(name).split() if u.startswith(("http://", "https://"))]
        if urls:
            args += ["--build-arg", f"PIP_{name.upper().replace('-', '_')}={' '.join(urls)}"]
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if os.environ.get(proxy):
            args += ["--build-arg", f"{proxy}={os.environ[proxy]}"]
    return args, volumes


def build_image(base: str) -> None:
    if image_exists(IMAGE):
        buildah("rmi", "--force", IMAGE, check=False)
    args, volumes = build_args()
    buildah(
        "bud",
        "--isolation",
        "chroot",
        "--pull=never",
        "-t",
        IMAGE,
        "--build-arg",
        f"BASE_IMAGE={base}",
        *args,
        *volumes,
        "-f",
        str(ROOT / "Dockerfile"),
        str(ROOT),
    )


def image_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", IMAGE, capture=True))["OCIv1"]
    return dict(config["config"])


# --------------------------------------------------------------------------------- running the image


@contextmanager
def working_container() -> Iterator[str]:
    """A working container of the image; removed on exit."""
    with step("working container (buildah from; vfs copies the image's files)"):
        container = buildah("from", "--pull=never", IMAGE, capture=True).strip()
    try:
        yield container
    finally:
        with step("cleanup (buildah rm of the working container)"):
            buildah("rm", container, check=False)


def image_connector(container: str, entrypoint: list[str], files: Path) -> Connector:
    """Runs the image's ENTRYPOINT in the working container, with `files` mounted at /secrets."""
    run_in_container = ["buildah", *STORAGE, "run", "--isolation", "chroot", "-v", f"{files}:{MOUNT}:ro"]
    return Connector(
        files,
        [*run_in_container, container, "--", *entrypoint],
        mounted_at=MOUNT,
        timeout=900,
        echo=lambda command: print("    $ " + command, flush=True),
    )


def installed_set(container: str) -> None:
    """What pip installed in the image is exactly the connector's lock: nothing more, nothing less."""
    run = ["run", "--isolation", "chroot", container, "--", "python"]
    python = buildah(*run, "-c", "import platform; print(platform.python_version())", capture=True).strip()
    installed: dict[str, str] = {}
    for line in buildah(*run, "-m", "pip", "freeze", "--all", capture=True).split("\n"):
        # `name==version`, or `name @ file:///...` for what was installed from a folder (the connector)
        name, _, version = line.strip().partition("==")
        if name:
            installed[normalise(name.split(" @ ")[0])] = version or name.partition(" @ ")[2]
    connector = installed.pop("airbyte-source-qualtrics", None)
    installed.pop("pip", None)
    environment = {"python_version": python.rpartition(".")[0], "python_full_version": python}
    locked = {
        pin.name: pin.version
        for pin in read_lock(LOCKS / "connector.lock")
        if pin.marker is None or Marker(pin.marker).evaluate(environment)
    }
    differences = sorted(set(installed.items()) ^ set(locked.items()))
    check(bool(connector), f"the connector is installed ({connector})")
    check(
        not differences,
        f"pip freeze in the image (Python {python}) = requirements/connector.lock: "
        f"{len(installed)} packages, {len(locked)} pinned",
        f"differences (name, version): {differences}",
    )


def by_survey(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for record in records:
        grouped.setdefault(record["surveyId"], []).append(record["responseId"])
    return grouped


def exercise_image(entrypoint: list[str], workdir: Path, expected_spec: dict[str, Any]) -> None:
    files = workdir / "secrets"
    files.mkdir()
    files.chmod(0o755)

    with (
        simulator_process(workdir, surveys=SURVEYS, responses=RESPONSES) as simulator,
        working_container() as container,
    ):
        base_url, admin = simulator.base_url, simulator.admin
        with step("image: installed packages (pip freeze) against requirements/connector.lock"):
            installed_set(container)
        image = image_connector(container, entrypoint, files)
        print(f"\n    simulator: {base_url}")
        config = simulator_config(base_url)

        with step("image: spec"):
            run = image.run("spec")
            specs = run.of_type("SPEC")
            check(run.returncode == 0 and len(specs) == 1, "spec prints one SPEC message", run.tail())
            connection = specs[0]["spec"]["connectionSpecification"]
            check(
                connection == expected_spec["connectionSpecification"],
                "SPEC carries the content of the spec.json the image was built from",
            )

        with step("image: check (right token, then a wrong one)"):
            run = image.run("check", config=config)
            statuses = run.of_type("CONNECTION_STATUS")
            check(
                len(statuses) == 1 and statuses[0]["connectionStatus"]["status"] == "SUCCEEDED",
                "check succeeds with the right token",
                run.tail(),
            )
            run = image.run("check", config=simulator_config(base_url, token=WRONG_TOKEN))
            statuses = run.of_type("CONNECTION_STATUS")
            check(
                len(statuses) == 1 and statuses[0]["connectionStatus"]["status"] == "FAILED",
                "check fails with a wrong token",
                run.tail(),
            )
            check(
                "rejected" in statuses[0]["connectionStatus"]["message"],
                "the failure says the token is rejected",
            )
            check(WRONG_TOKEN not in run.raw_stdout + run.stderr, "the wrong token is never printed")

        with step("image: discover"):
            admin.reset_counts()
            run = image.run("discover", config=config)
            catalogs = run.of_type("CATALOG")
            check(run.returncode == 0 and len(catalogs) == 1, "discover prints one CATALOG", run.tail())
            streams = {s["name"]: s for s in catalogs[0]["catalog"]["streams"]}
            check(
                {"surveys", "responses"} <= set(streams),
                f"the catalog has surveys and responses {sorted(streams)}",
            )
            check(streams["responses"]["source_defined_primary_key"] == [["responseId"]], "responses' key")
            check("values" in streams["responses"]["json_schema"]["properties"], "responses' schema")
            discovered = catalogs[0]["catalog"]
            counts = admin.request_counts()
            check(not any("export" in k and n for k, n in counts.items()), f"no export was started {counts}")

        catalog = configure(discovered, "surveys", "responses")
        surveys = admin.survey_ids()
        with step("image: incremental read, no state"):
            first = image.run("read", config=config, catalog=catalog)
            check(first.returncode == 0, "read exits 0", first.tail())
            received = by_survey(first.records("responses"))
            for survey in surveys:
                ids = received.get(survey, [])
                truth = admin.response_ids(survey)
                check(len(ids) == len(set(ids)), f"{survey}: no response is duplicated ({len(ids)})")
                check(
                    set(ids) == set(truth), f"{survey}: the response ids equal the simulator's ({len(truth)})"
                )
            check(set(received) <= set(surveys), "no response of an unknown survey")
            check({r["id"] for r in first.records("surveys")} == set(surveys), "every survey is read")
            # a few small surveys: each is at least an eighth of the sync, so each gets its own checkpoint
            checkpoints = [len(state.get("states", [])) for state in first.states("responses")]
            check(
                checkpoints == list(range(1, len(surveys) + 1)),
                f"one responses checkpoint per survey {checkpoints}",
            )
            check(SIM_TOKEN not in first.raw_stdout, "the token is never printed")

        added = {surveys[index]: admin.add_responses(surveys[index], count) for index, count in ADDED.items()}
        with step("image: incremental read with the first read's state"):
            second = image.run("read", config=config, catalog=catalog, state=first.latest_states())
            check(second.returncode == 0, "read with state exits 0", second.tail())
            records = second.records("responses")
            received_again = [(r["surveyId"], r["responseId"]) for r in records]
            expected = {(survey, rid) for survey, ids in added.items() for rid in ids}
            check(len(received_again) == len(set(received_again)), "no response is duplicated")
            check(
                set(received_again) == expected,
                f"exactly the {len(expected)} added responses come ({len(received_again)} came)",
            )
            for survey in surveys:
                union = set(received.get(survey, [])) | set(by_survey(records).get(survey, []))
                check(
                    union == set(admin.response_ids(survey)), f"{survey}: both reads together = ground truth"
                )


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild-base", action="store_true", help="rebuild the cached stand-in base image")
    parser.add_argument(
        "--no-build", action="store_true", help="reuse the image built before (spec.json unchanged since)"
    )
    options = parser.parse_args(argv)
    started = time.monotonic()
    failure: BaseException | None = None
    try:
        with step("tools (apt-get install buildah debootstrap when missing)"):
            ensure_tools()
        with step("base image (debootstrap stand-in for airbyte/python-connector-base, cached)"):
            base = ensure_base_image(options.rebuild_base)
        with step("connector image (buildah bud of ./Dockerfile)"):
            # read before the build copies it: what the image must answer even if the file changes meanwhile
            expected_spec = json.loads((ROOT / "spec.json").read_text())
            if options.no_build and image_exists(IMAGE):
                print(f"    --no-build: using {IMAGE} as built before")
            else:
                build_image(base)
        config = image_config()
        entrypoint = list(config.get("Entrypoint") or [])
        env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
        print(f"    ENTRYPOINT {entrypoint}  AIRBYTE_ENTRYPOINT={env.get('AIRBYTE_ENTRYPOINT')!r}")
        print(f"    USER {config.get('User')!r}  WORKDIR {config.get('WorkingDir')!r}")
        check(bool(entrypoint), "the image has an ENTRYPOINT")
        check(shlex.split(env.get("AIRBYTE_ENTRYPOINT", "")) == entrypoint, "AIRBYTE_ENTRYPOINT = ENTRYPOINT")
        check(config.get("WorkingDir") == "/airbyte/integration_code", "WORKDIR /airbyte/integration_code")
        check(config.get("User") not in (None, "", "root", "0"), "the image runs as a non-root user")
        with tempfile.TemporaryDirectory(prefix="qualtrics-image-test-") as tmp:
            exercise_image(entrypoint, Path(tmp), expected_spec)
    except ImageTestError as error:
        failure = error
    except Exception as error:  # an unexpected answer (bad JSON, missing key): report it with the timings
        traceback.print_exc()
        failure = error
    total = time.monotonic() - started
    print("\nStep timings:")
    for name, seconds in TIMINGS:
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {total:7.1f} s  total")
    if failure is not None:
        print(f"\nIMAGE TEST FAILED: {failure}", file=sys.stderr)
        print(f"image-test: {CHECKS['passed']} passed, {max(CHECKS['failed'], 1)} failed", flush=True)
        return 1
    print("\nImage test passed: the image answers spec, check, discover and an incremental read.")
    # The plain closing line CI readers recognise, so this run counts its checks as tests.
    print(f"image-test: {CHECKS['passed']} passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
