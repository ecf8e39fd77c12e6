import re
from pathlib import Path

import pytest

import csdesk
from csdesk import errors
from csdesk.errors import CsdeskError, all_error_classes

ERRORS_PAGE = Path(__file__).parents[1] / "docs" / "errors.md"


def documented_codes() -> list[str]:
    return re.findall(r"^## `([a-z_]+)`", ERRORS_PAGE.read_text(encoding="utf-8"), flags=re.M)


def test_every_code_is_unique() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


def test_every_code_has_a_section_on_the_errors_page() -> None:
    missing = {cls.code for cls in all_error_classes()} - set(documented_codes())
    assert not missing, f"codes without a section in docs/errors.md: {sorted(missing)}"


def test_every_section_on_the_errors_page_is_a_real_code() -> None:
    stale = set(documented_codes()) - {cls.code for cls in all_error_classes()}
    assert not stale, f"sections for codes that no error has: {sorted(stale)}"


def test_every_error_class_is_exported_and_drawn_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    for cls in all_error_classes():
        assert cls.__name__ in errors.__all__
        assert re.search(rf"\b{cls.__name__}\b.*\b{cls.code}\b", tree), cls.__name__


@pytest.mark.parametrize("cls", all_error_classes())
def test_every_error_but_the_root_mixes_in_a_builtin(cls: type[CsdeskError]) -> None:
    if cls is CsdeskError:
        return
    builtins = (
        ValueError,
        LookupError,
        TypeError,
        RuntimeError,
        PermissionError,
        TimeoutError,
        ImportError,
    )
    assert issubclass(cls, builtins)


def test_errors_keep_their_message_and_code() -> None:
    with pytest.raises(CsdeskError) as caught:
        csdesk.Money("1", "XYZ")
    assert caught.value.code == "unknown_currency"
    assert caught.value.message == str(caught.value)
    assert "ISO 4217" in str(caught.value)
