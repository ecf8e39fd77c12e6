"""``python -m csdesk.schemas``: write the shipped schema files from the models."""

from __future__ import annotations

from importlib import resources

from csdesk.schemas import KINDS, render


def main() -> None:
    """Write ``<kind>.schema.json`` next to this module for every kind."""
    folder = resources.files("csdesk.schemas")
    for kind in KINDS:
        with resources.as_file(folder / f"{kind}.schema.json") as path:
            path.write_text(render(kind), encoding="utf-8")
            print(path)


if __name__ == "__main__":
    main()
