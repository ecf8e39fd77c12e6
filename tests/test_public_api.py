import subprocess
import sys
import types

import csdesk


def test_all_is_sorted_and_unique() -> None:
    assert list(csdesk.__all__) == sorted(set(csdesk.__all__))


def test_all_names_exist() -> None:
    for name in csdesk.__all__:
        assert hasattr(csdesk, name), name


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(csdesk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(csdesk.__all__), sorted(public - set(csdesk.__all__))


def test_every_public_name_of_the_core_modules_is_exported() -> None:
    from csdesk import events, ledger, models, money

    for module in (events, ledger, models, money):
        for name in module.__all__:
            if name[0].isupper() or name in {"allocate", "prorate", "currency_digits", "sum_money"}:
                if name in {"AmountLike", "Rounding", "ROUNDING_MODES", "MAX_AMOUNT"}:
                    continue
                assert name in csdesk.__all__, f"{module.__name__}.{name}"


def test_version() -> None:
    assert csdesk.__version__.count(".") == 2


def test_imports_without_the_cli_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['click'] = None\n"
        "sys.modules['rich'] = None\n"
        "import csdesk, csdesk.money, csdesk.models, csdesk.events, csdesk.errors, csdesk.privacy\n"
        "assert 'click' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(csdesk.Money('1', 'CNY'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 CNY"
