"""`finsim policy show` and `finsim policy diff` (issue 18.4): the rules in force by year."""

from __future__ import annotations

from finsim.cli import main
from finsim.policy import load


def test_show_prints_each_rule_in_force_with_its_sources_and_mark(capsys):
    """2018/19's marginal rate is 70% (S), set in 2016/17; every rule in force is listed."""
    assert main(["policy", "show", "2018/19"]) == 0
    out = capsys.readouterr().out
    rules = load().at("2018/19")
    assert f"Rules in force in 2018/19 (england): {len(rules)}." in out
    line = next(x for x in out.splitlines() if x.strip().startswith("marginal_rate.rate "))
    assert "70%" in line and "[S;" in line and "since 2016/17" in line
    sources = out.split("\nSources\n")[1]
    assert "  T2 " in sources or "  T2   " in sources  # each code cited is spelled out


def test_show_one_domain(capsys):
    assert main(["policy", "show", "2019/20", "--domain", "cquin"]) == 0
    out = capsys.readouterr().out
    names = [x.split()[0] for x in out.splitlines() if x.startswith("  ") and "[" in x]
    assert names and all(n.startswith("cquin.") for n in names)
    assert any(n == "cquin.share" for n in names)


def test_diff_prints_what_changed_between_two_years(capsys):
    """2018/19 to 2019/20: the marginal rate ended (MRET abolished) and CQUIN fell to 1.25%."""
    assert main(["policy", "diff", "2018/19", "2019/20"]) == 0
    out = capsys.readouterr().out
    changes = load().diff("2018/19", "2019/20")
    assert f"{len(changes)} rules changed" in out
    block = out.split("  cquin.share (changed)")[1].split("\n\n")[0]
    assert "2019/20: 1.25%" in block


def test_a_bad_year_or_domain_is_one_clear_error(capsys):
    assert main(["policy", "show", "2019"]) == 2
    assert "'2019' is not a financial year: write it as 2019/20" in capsys.readouterr().err
    assert main(["policy", "diff", "2018/19", "2019/20", "--domain", "cqin"]) == 2
    assert "no domain 'cqin'" in capsys.readouterr().err
