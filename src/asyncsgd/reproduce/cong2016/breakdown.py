"""Part (c): the breakdown of epoch time into computation and communication for p = 1, 2, 4, 8,
measured on the ``local`` engine, beside the study's shares."""

from __future__ import annotations

import statistics

from asyncsgd.report.measures import COMMUNICATION, COMPUTATION, phase_shares
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016.numbers import dataset_of, learner_counts, mean_of, phase_share
from asyncsgd.reproduce.cong2016.plan import BREAKDOWN
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, aggregate, cell, select, settings_line


def breakdown_section(doc: Document, res: StudyResults) -> None:
    view = res.view(BREAKDOWN)
    learners = learner_counts(view)
    sets = (("text", "NLC-F"), ("image", "CIFAR-10"))
    doc.heading("(c) Breakdown of epoch time: computation against communication")
    doc.paragraph(
        f"Study: {pub.BREAKDOWN_SOURCE}, on {pub.CONG_PLATFORM}. Ours: the `local` engine "
        f"({settings_line(view, ('model', 'hidden', 'batch_size', 'lr', 'epochs'))}): p learner processes "
        "and a parameter server in shared memory on this machine, wall-clock time per phase, summed "
        f"over learners. **Computation** = {' + '.join(COMPUTATION)} (the gradient and its encoding); "
        f"**communication** = {' + '.join(COMMUNICATION)} (copying the parameters out, handing the "
        "push to the server's shards, waiting for locks, applying under the lock). These runs go one "
        "at a time so that two runs never share the cores.",
    )
    rows = []
    for p in learners:
        row = [str(p)]
        for method, study in sets:
            ref = pub.BREAKDOWN_COMMUNICATION[study].get(p)
            ours = aggregate(select(view.runs, method=method, learners=p), "comm_share")
            row += ["–" if ref is None else f"{ref:.1f}", cell(ours)]
        rows.append(row)
    doc.table(
        ["p", "study NLC-F", f"ours text ({dataset_of(view, 'text')})", "study CIFAR-10",
         f"ours image ({dataset_of(view, 'image')})"], rows,
        caption="Share of epoch time spent communicating (%); ours mean ± std over seeds.",
    )  # fmt: skip
    fig = Figure(
        "breakdown",
        x="learners",
        facet="method",
        title="Ours: share of learner time per phase (local engine)",
    )
    caption = "Share of learner time per phase, one bar per p (computation below, communication above)"
    doc.image(res.figure(BREAKDOWN, fig), caption)
    phases = (*COMPUTATION, *COMMUNICATION)
    phase_rows = []
    for method, _ in sets:
        for p in learners:
            shares = [s for s in (phase_shares(r) for r in select(view.runs, method=method, learners=p)) if s]
            if shares:
                mean = {k: statistics.fmean(s.get(k, 0.0) for s in shares) for k in phases}
                phase_rows.append([method, str(p), *(f"{mean[k]:.1f}" for k in phases)])
    doc.table(["set", "p", *phases], phase_rows, caption="Every phase (%), mean over seeds.")
    stale = Figure("staleness", facet="method", lines=("learners",), title="Staleness of applied pushes")
    doc.image(res.figure(BREAKDOWN, stale), "Staleness of applied pushes (local engine), one line per p")
    findings = []
    lo, hi = learners[0], learners[-1]
    for method, study_key in sets:
        a = mean_of(select(view.runs, method=method, learners=lo), "comm_share")
        b = mean_of(select(view.runs, method=method, learners=hi), "comm_share")
        refs = pub.BREAKDOWN_COMMUNICATION[study_key]
        if a is not None and b is not None and lo in refs and hi in refs and lo != hi:
            findings.append(
                f"{method}: communication goes from {a:.1f}% (p = {lo}) to {b:.1f}% (p = {hi}), "
                f"{b - a:+.1f} points; study ({study_key}): {refs[lo]:.1f}% to {refs[hi]:.1f}%, "
                f"{refs[hi] - refs[lo]:+.1f} points."
            )
    waits = [phase_share(view, p, "wait") for p in learners]
    if all(w is not None for w in waits) and lo != hi:
        findings.append(
            f"Waiting for the server's lock is {waits[0]:.1f}% of learner time with p = {lo} and "
            f"{waits[-1]:.1f}% with p = {hi} (mean of both sets)."
        )
    where = f"{res.cores} cores" if res.cores else "this machine's cores"
    findings.append(
        "Why ours differs (hardware): ours is not a network: a pull or a push is a memory copy and a "
        f"lock in shared memory. Once p exceeds {where}, learner processes are time-sliced, and a "
        "learner descheduled while it holds or waits for a lock makes the others wait, so the growth "
        "of communication with p measures contention for cores and locks; the study measured GPUs "
        "sending gradients over a PCIe tree to a CPU host. (Data and model): our gradients are cheap "
        "(a small MLP on the CPU), which raises the share of everything that is not computation."
    )
    doc.bullets(findings)
