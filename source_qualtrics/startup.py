"""Start-up work the connector does not need: serpyco-rs' attribute docstrings, and GC passes.

airbyte-cdk (de)serialises protocol messages with serpyco-rs, which at import builds a serializer per
protocol dataclass and, for each, reads the class's source with `inspect` and parses it with `ast` to
collect attribute docstrings (the `attributes_doc` package). Those docstrings only become
`description`s in the JSON schema serpyco can generate, which neither the CDK nor this connector asks
for, and reading them costs about 0.6 s of the roughly 1.7 s that importing the CDK takes on every
`spec`, `check`, `discover` and `read`. `unit_tests/test_startup.py` checks that messages serialise and
load exactly as before, and that the shortcut still takes effect with the pinned versions.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """The `source-qualtrics` console script: import the connector with the GC paused, then run it.

    Importing airbyte-cdk creates about 110,000 long-lived objects, and the cyclic GC walks them over
    and over while they are being created (about 250 collections, ~0.15 s of the import). Paused
    during the import and frozen after it, they are left alone for the rest of the process.
    """
    gc.disable()
    try:
        from source_qualtrics.run import main as run_main
    finally:
        gc.freeze()
        gc.enable()
    run_main()


def skip_attribute_docstrings() -> None:
    """Make serpyco-rs see no attribute docstrings; a no-op once serpyco-rs is imported."""
    if "serpyco_rs" in sys.modules:
        return  # serpyco already holds the real function: too late, and nothing to gain
    try:
        import attributes_doc
    except ImportError:  # a serpyco-rs without it: nothing to skip
        return
    attributes_doc.get_attributes_doc = no_attribute_docstrings


def no_attribute_docstrings(cls: type) -> dict[str, str]:
    """`attributes_doc.get_attributes_doc` for a caller that only wants schema descriptions."""
    return {}
