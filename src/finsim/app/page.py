"""The explorer's page: choose a scenario and a variant, move the parameters that matter, run,
and read the results (``finsim app`` serves it with Streamlit).

The sidebar holds the choices, the main column the scenario, finsim's errors and the
results. Nothing here computes: the scenario is read by :mod:`finsim.app.sources`, the
parameters become an overlay in :mod:`finsim.app.controls`, the run and its progress are
:mod:`finsim.app.running`, and what is shown of the results is :mod:`finsim.app.outcomes`
and :mod:`finsim.app.view`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import streamlit as st

from finsim.app import controls as knobs
from finsim.app import running, sources, view
from finsim.errors import ResultsError, ScenarioError
from finsim.scenario import BASELINE, Scenario

#: Replications a run makes unless the user asks for another number.
REPLICATIONS = 1000
#: The most replications the page runs (the command line runs more: ``finsim run``).
MOST_REPLICATIONS = 100_000
EXAMPLE, UPLOAD = "An example", "A file of my own"

_load_example = st.cache_resource(max_entries=16, show_spinner="Reading the scenario...")(
    sources.load_example
)


@st.cache_resource(max_entries=16, show_spinner="Reading the scenario...")
def _load_upload(name: str, data: bytes, digest: str) -> Scenario:
    # (digest is the cache's key: the bytes are not hashed for it again)
    return sources.load_upload(name, data)


@dataclass(frozen=True)
class Chosen:
    """What the sidebar asks for: the scenario (with its variant), the overlay of the moved
    controls, and the run's size."""

    scenario: Scenario
    changes: dict[str, Any]
    replications: int
    seed: int
    pressed: bool

    def signature(self) -> tuple[Any, ...]:
        """What the run depends on, to tell whether shown results are still the settings'."""
        scenario = self.scenario
        return (scenario.source, scenario.variant, repr(self.changes), self.replications, self.seed)


def main() -> None:
    """Draw the page (Streamlit runs this on every interaction)."""
    st.set_page_config(page_title="finsim explorer", layout="wide")
    st.title("finsim explorer")
    st.caption(
        "Simulate English NHS finance over financial years: choose a scenario, move a "
        "parameter, run 1,000 replications and see who meets their control totals."
    )
    errors = st.container()  # finsim's errors show here, in the main column
    with st.sidebar:
        chosen = _sidebar(errors)
    if chosen is None:
        return
    scenario = chosen.scenario
    st.subheader(scenario.name)
    if scenario.description:
        st.write(scenario.description)
    if chosen.pressed:
        _run(chosen)
    last = st.session_state.get("last")
    if last is None:
        st.info("Press **Run** in the sidebar to simulate the scenario.")
        return
    if last["signature"] != chosen.signature():
        st.info("The settings have changed since these results: press **Run** to see them.")
    view.results(last["run"], last)


# -- the sidebar -----------------------------------------------------------------------------
def _sidebar(errors: Any) -> Chosen | None:
    st.header("Scenario")
    base = _scenario(errors)
    if base is None:
        return None
    variant = st.selectbox(
        "Variant",
        [BASELINE, *base.variants],
        key="variant",
        help="A variant declared in the scenario file: its overlay is applied first, then the "
        "parameters below.",
    )
    try:
        scenario = base.with_variant(variant)
    except ScenarioError as exc:
        view.problems(exc, "finsim cannot use this variant", errors)
        return None
    st.header("Parameters")
    values = _controls(scenario)
    st.header("Run")
    replications = int(
        st.number_input(
            "Replications",
            min_value=1,
            max_value=MOST_REPLICATIONS,
            value=REPLICATIONS,
            step=100,
            key="replications",
            help="How many times the years are simulated, each with its own random draws.",
        )
    )
    seed = int(
        st.number_input(
            "Seed",
            min_value=0,
            value=0,
            step=1,
            key="seed",
            help="The same seed gives the same replications, as finsim run --seed does.",
        )
    )
    pressed = st.button("Run", type="primary", key="run")
    return Chosen(scenario, knobs.overlay(scenario, values), replications, seed, pressed)


def _scenario(errors: Any) -> Scenario | None:
    """The scenario chosen or uploaded, or None (with finsim's errors shown in ``errors``)."""
    examples = sources.examples()
    kinds = [EXAMPLE, UPLOAD] if examples else [UPLOAD]
    kind = st.radio("Scenario from", kinds, key="source", horizontal=True)
    try:
        if kind == EXAMPLE:
            name = st.selectbox("Example", list(examples), key="example")
            token = f"example:{name}"
            scenario = _load_example(str(examples[name]))
        else:
            upload = st.file_uploader(
                "Scenario file (.yaml, or an .xlsx workbook)",
                type=list(sources.UPLOAD_TYPES),
                key="upload",
            )
            if upload is None:
                _forget("upload:")
                st.info("Upload a scenario file to explore it.")
                return None
            data = upload.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            token = f"upload:{digest}"
            scenario = _load_upload(upload.name, data, digest)
    except ScenarioError as exc:
        _forget(None)
        view.problems(exc, "finsim cannot use this scenario", errors)
        return None
    _forget(token)
    return scenario


def _forget(token: str | None) -> None:
    """Start the variant and the parameters afresh when the scenario changes (``token``
    names it), and drop results of another scenario."""
    if st.session_state.get("scenario_token") == token:
        return
    st.session_state["scenario_token"] = token
    for key in list(st.session_state):
        if key in ("variant", "fan_org") or str(key).startswith("control:"):
            del st.session_state[key]
    st.session_state.pop("last", None)


def _controls(scenario: Scenario) -> dict[str, knobs.Value]:
    """A widget per control the scenario has, each starting at the scenario's value."""
    token = f"{st.session_state.get('scenario_token')}|{scenario.variant}"
    if st.session_state.get("controls_token") != token:  # a new variant: start afresh
        st.session_state["controls_token"] = token
        for key in [k for k in st.session_state if str(k).startswith("control:")]:
            del st.session_state[key]
    found = knobs.controls(scenario)
    if not found:
        st.caption("This scenario has none of the sections the parameters set.")
    values: dict[str, knobs.Value] = {}
    for control in found:
        values[control.key] = (
            _quarters(control) if isinstance(control.value, tuple) else _slider(control)
        )
    return values


def _slider(control: knobs.Control) -> float:
    scale = 100.0 if control.percent else 1.0
    value = float(control.value) if not isinstance(control.value, tuple) else 0.0
    decimals = _decimals(control.step * scale)
    chosen = st.slider(
        control.label,
        min_value=round(control.low * scale, 6),
        max_value=round(control.high * scale, 6),
        value=round(value * scale, 6),
        step=round(control.step * scale, 6),
        format=f"%.{decimals}f%%" if control.percent else f"%.{decimals}f",
        key=f"control:{control.key}",
        help=f"{control.help} Sets `{control.path}`.",
    )
    return float(chosen) / scale


def _quarters(control: knobs.Control) -> tuple[float, ...]:
    st.markdown(f"**{control.label}**", help=f"{control.help} Sets `{control.path}`.")
    columns = st.columns(4)
    quarters = control.value if isinstance(control.value, tuple) else ()
    chosen = []
    for q, (column, share) in enumerate(zip(columns, quarters, strict=True), start=1):
        with column:
            chosen.append(
                st.number_input(
                    f"Q{q} %",
                    min_value=0.0,
                    max_value=100.0,
                    value=round(share * 100, 6),
                    step=1.0,
                    format="%.0f",
                    key=f"control:{control.key}:q{q}",
                )
            )
    return tuple(float(c) / 100 for c in chosen)


def _decimals(step: float) -> int:
    text = f"{step:.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


# -- running ---------------------------------------------------------------------------------
def _run(chosen: Chosen) -> None:
    """Apply the parameters (finsim validates them) and run, with a progress bar."""
    try:
        scenario = knobs.adjusted(chosen.scenario, chosen.changes)
    except ScenarioError as exc:
        view.problems(exc, "finsim refused these parameters")
        return
    bar = st.progress(0.0, text=f"Running {chosen.replications:,} replications...")

    def report(done: int, total: int) -> None:
        bar.progress(
            min(done / max(total, 1), 1.0),
            text=f"Running {chosen.replications:,} replications: {done:,} of {total:,} chunks",
        )

    try:
        with st.spinner(f"Running {chosen.replications:,} replications..."):
            run = running.run(scenario, chosen.replications, chosen.seed, report)
    except (ScenarioError, ResultsError) as exc:
        bar.empty()
        if isinstance(exc, ScenarioError):
            view.problems(exc, "finsim could not run this")
        else:
            st.error(f"finsim could not run this: {view.plain(str(exc))}")
        return
    bar.empty()
    st.session_state["last"] = {
        "signature": chosen.signature(),
        "run": run,
        "changes": chosen.changes,
        "variant": chosen.scenario.variant,
        "as_variant": knobs.as_variant(chosen.scenario, chosen.changes),
    }
