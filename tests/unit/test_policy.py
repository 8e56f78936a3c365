from pathlib import Path

import pytest

from shelfmark.lending.infrastructure.policy_source import PolicyFileError, load_policy


def test_the_built_in_preset_has_the_spec_numbers() -> None:
    policy = load_policy(None)
    regular, premium, researcher = (
        policy.categories[c] for c in ("regular", "premium", "researcher")
    )
    assert (regular.max_loans, regular.loan_period_days, regular.renewals, regular.max_holds) == (
        5,
        14,
        2,
        5,
    )
    assert (premium.max_loans, premium.loan_period_days, premium.renewals, premium.max_holds) == (
        10,
        21,
        2,
        10,
    )
    assert (researcher.max_loans, researcher.loan_period_days, researcher.renewals) == (20, 30, 3)
    assert (
        researcher.max_holds is None
        and researcher.open_ended_holds
        and researcher.restricted_copies
    )
    library = policy.library
    assert str(library.money("fine_per_day")) == "0.25"
    assert str(library.money("fine_cap")) == "5.00"
    assert str(library.money("fee_block_threshold")) == "10.00"
    assert library.fine_grace_days == 1 and library.overdue_block_count == 2
    assert library.closed_weekdays == ("sunday",)


def test_a_file_overrides_key_by_key(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(
        'name = "branch"\n[library]\nfine_per_day = "0.50"\nclosed_dates = [2026-12-25]\n'
        "[categories.regular]\nmax_loans = 3\n"
    )
    policy = load_policy(file)
    assert policy.name == "branch"
    assert policy.categories["regular"].max_loans == 3
    assert policy.categories["regular"].loan_period_days == 14  # untouched key kept
    assert str(policy.library.money("fine_per_day")) == "0.50"
    assert policy.library.calendar.is_open(policy.library.closed_dates[0]) is False


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("[categories.regular]\nmax_loans = 0\n", "max_loans"),
        ('[categories.regular]\nmax_loans = "many"\n', "categories.regular.max_loans"),
        ('[library]\ntimezone = "Mars/Olympus"\n', "time zone"),
        ('[library]\nclosed_weekdays = ["funday"]\n', "funday"),
        ('[library]\nfine_per_day = "0.001"\n', "fine_per_day"),
        ('[library]\nfine_cap = "-1"\n', "fine_cap"),
        ('preset = "university"\n', "unknown policy preset"),
        ("[categories.regular]\nmax_loan = 3\n", "unknown keys categories.regular.max_loan"),
        ('[library]\nfine_per_dya = "1.00"\n', "unknown keys library.fine_per_dya"),
        ("[categories.gold]\nmax_loans = 3\nloan_period_days = 7\nrenewals = 0\n", "gold"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message(
    tmp_path: Path, content: str, complaint: str
) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(content)
    with pytest.raises(PolicyFileError, match=complaint):
        load_policy(file)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path / "absent.toml")
