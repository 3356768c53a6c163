"""The plain-text summary table printed at the end of a run."""

from __future__ import annotations

from typing import Any

COLUMNS = (
    ("method", "{}"),
    ("test acc %", "{:.2f}"),
    ("train loss", "{:.4f}"),
    ("updates", "{}"),
    ("τ mean", "{:.2f}"),
    ("τ p95", "{}"),
    ("τ max", "{}"),
    ("MB up", "{:.1f}"),
    ("MB down", "{:.1f}"),
    ("engine s", "{:.1f}"),
    ("wall s", "{:.1f}"),
)


def _row(s: dict[str, Any]) -> list[Any]:
    st = s["staleness"]
    accuracy = s["final"]["test_accuracy"]  # None where summary.json holds no number (NaN is written null)
    return [
        s["method"],
        None if accuracy is None else 100 * accuracy,
        s["final"]["train_loss"],
        s["updates"],
        st["mean"],
        st["p95"],
        st["max"],
        s["bytes"]["up"] / 1e6,
        s["bytes"]["down"] / 1e6,
        s["time"]["engine_seconds"],
        s["time"]["wall_seconds"],
    ]


def format_table(summaries: list[dict[str, Any]]) -> str:
    header = [c for c, _ in COLUMNS]
    rows = [
        ["-" if v is None else fmt.format(v) for (_, fmt), v in zip(COLUMNS, _row(s), strict=True)]
        for s in summaries
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(
        h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    out = [line, "-" * len(line)]
    for r in rows:
        out.append(
            "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
        )
    return "\n".join(out)
