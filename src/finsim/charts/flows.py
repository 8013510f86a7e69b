"""Who paid whom in a year, by flow category: a Sankey diagram of money flows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from finsim.charts.select import (
    _fy,
)
from finsim.charts.style import (
    CATEGORY_COLOURS,
    GREY,
    SPARE_COLOURS,
    ChartError,
    _figure,
    _replications,
    _titles,
)
from finsim.errors import ResultsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from finsim.results import Results


_GROUP_LABELS = {
    "external": "external",
    "centre": "centre",
    "region": "regions",
    "system": "systems",
    "commissioner": "commissioners",
    "provider": "providers",
}
_NODE_ORDER = ("treasury", "centre", "region", "system", "commissioner", "provider", "external")


def _nodes(results: Results, group: str) -> tuple[dict[str, str], dict[str, int]]:
    """Each account's node label under ``group``, and each label's place in the order."""
    table = results.economy.org_table()
    rank = {t: i for i, t in enumerate(_NODE_ORDER)}
    node: dict[str, str] = {}
    order: dict[str, int] = {}
    for org, kind, system in zip(table["org"], table["org_type"], table["system"], strict=True):
        if org in ("treasury", "external"):
            label, place = ("HM Treasury", 0) if org == "treasury" else ("external", 6)
        elif group == "org_type":
            label, place = _GROUP_LABELS[kind], rank[kind]
        elif group == "system" and kind in ("commissioner", "provider") and system is not None:
            label, place = str(system), rank["system"]
        else:
            label, place = str(org), rank[kind]
        node[org] = label
        order.setdefault(label, place)
    return node, order


def sankey(
    results: Results,
    fy: str | None = None,
    by: str = "category",
    *,
    group: str = "auto",
    kind: str = "revenue",
    max_nodes: int = 14,
    min_share: float = 0.005,
) -> Figure:
    """Money flows between bodies in a year: payers on the left, payees on the right.

    Ribbons are the mean over replications of each (payer, payee, ``by``) flow, coloured by
    ``by`` ("category", "recurrence" or "kind"); a net negative flow (a refund, a saving
    booked as a negative cost) is drawn from payee to payer. ``group`` gathers bodies into
    nodes: "org" (each body), "system" (commissioners and providers by system),
    "org_type" (commissioners, providers...), or "auto" ("org" while there are at most
    ``max_nodes`` on a side). For legibility, payers and payees beyond the largest
    ``max_nodes`` become "others", categories beyond the seven largest and ribbons under
    ``min_share`` of the total become grey "other" ribbons; no money is dropped.
    """
    if by not in ("category", "recurrence", "kind"):
        raise ChartError(f"sankey by 'category', 'recurrence' or 'kind', got {by!r}")
    if group not in ("auto", "org", "system", "org_type"):
        raise ChartError(f"sankey group 'auto', 'org', 'system' or 'org_type', got {group!r}")
    fy = _fy(results, fy)
    flows = results.flows
    wanted = flows["fy"] == fy
    if kind != "all":
        wanted &= flows["kind"] == kind
    flows = flows[wanted]
    if not len(flows):
        raise ResultsError(f"no {kind} money moved in {fy}")
    if group == "auto":
        bodies = max(flows["source"].nunique(), flows["target"].nunique())
        group = "org" if bodies <= max_nodes else "org_type"
    node, order = _nodes(results, group)
    mean = (
        flows.groupby(["source", "target", by], observed=True)["amount"].sum()
        / results.replications
    )
    links = mean.reset_index()
    backwards = links["amount"] < 0
    links.loc[backwards, ["source", "target"]] = links.loc[
        backwards, ["target", "source"]
    ].to_numpy()
    links["amount"] = links["amount"].abs()
    links["payer"] = links["source"].map(node)
    links["payee"] = links["target"].map(node)
    for side in ("payer", "payee"):  # the largest nodes, the rest as "others"
        sizes = links.groupby(side)["amount"].sum().sort_values(ascending=False)
        keep = set(sizes.index[:max_nodes])
        links[side] = links[side].where(links[side].isin(keep), "others")
    order["others"] = len(_NODE_ORDER)
    total = float(links["amount"].sum())
    colour_keys = links.groupby(by)["amount"].sum().sort_values(ascending=False).index.tolist()
    spare = list(SPARE_COLOURS)
    colours: dict[str, str] = {}
    for key in colour_keys:
        if key in CATEGORY_COLOURS:
            colours[key] = CATEGORY_COLOURS[key]
        elif spare:
            colours[key] = spare.pop(0)
    small = (links["amount"] < min_share * total) | ~links[by].isin(colours)
    links.loc[small, by] = "other"
    colours["other"] = GREY
    links = links.groupby(["payer", "payee", by])["amount"].sum().reset_index()
    links = links[links["amount"] > 0]

    def place(side: str) -> dict[str, tuple[float, float]]:
        sizes = links.groupby(side)["amount"].sum()
        names = sorted(sizes.index, key=lambda n: (order.get(n, 99), -sizes[n]))
        gap = 0.02 * total
        out, y = {}, total + gap * (len(names) - 1)
        for n in names:
            out[n] = (y - sizes[n], y)  # (bottom, top), filled from the top down
            y -= sizes[n] + gap
        return out

    left, right = place("payer"), place("payee")
    fig = _figure(10, 7)
    ax = fig.add_subplot()
    from matplotlib.patches import Patch, PathPatch, Rectangle
    from matplotlib.path import Path as MplPath

    width, x0, x1 = 0.04, 0.0, 1.0
    rank_right = {n: i for i, n in enumerate(right)}
    rank_left = {n: i for i, n in enumerate(left)}
    next_left = {n: top for n, (_, top) in left.items()}
    next_right = {n: top for n, (_, top) in right.items()}
    ordered = links.assign(
        _l=links["payer"].map(rank_left), _r=links["payee"].map(rank_right)
    ).sort_values(["_l", "_r"])
    for _, link in ordered.iterrows():
        h = float(link["amount"])
        a_top = next_left[link["payer"]]
        next_left[link["payer"]] -= h
        b_top = next_right[link["payee"]]
        next_right[link["payee"]] -= h
        xa, xb, xm = x0 + width, x1 - width, (x0 + x1) / 2
        verts = [
            (xa, a_top),
            (xm, a_top),
            (xm, b_top),
            (xb, b_top),
            (xb, b_top - h),
            (xm, b_top - h),
            (xm, a_top - h),
            (xa, a_top - h),
            (xa, a_top),
        ]
        codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3]
        codes.append(MplPath.CLOSEPOLY)
        ax.add_patch(
            PathPatch(MplPath(verts, codes), facecolor=colours[link[by]], alpha=0.65, lw=0)
        )
    for nodes, x, align, sign in ((left, x0, "right", -1), (right, x1 - width, "left", 1)):
        for name, (bottom, top) in nodes.items():
            ax.add_patch(Rectangle((x, bottom), width, top - bottom, color="#333333"))
            ax.text(
                x + (width + 0.01 if sign > 0 else -0.01),
                (bottom + top) / 2,
                f"{name}  {top - bottom:,.0f}",
                ha=align,
                va="center",
                fontsize=8,
            )
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylim(-0.02 * total, total * 1.02 + 0.02 * total * max(len(left), len(right)))
    ax.axis("off")
    handles = [
        Patch(color=c, alpha=0.65, label=str(k).replace("_", " "))
        for k, c in colours.items()
        if (links[by] == k).any()
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    height = max(top for _, top in [*left.values(), *right.values()])
    for x, word in ((x0, "pays"), (x1 - width, "receives")):
        ax.text(x + width / 2, height, word, ha="center", va="bottom", fontsize=9, color="#444444")
    _titles(
        fig,
        ax,
        f"Who paid whom, {fy}: £{total:,.0f}m of {kind} money",
        f"mean of {_replications(results.replications)}, £m, by {by.replace('_', ' ')}; "
        f"{results.scenario_name}",
    )
    return fig
