"""The report as a whole: the introduction, where this reproduction differs from the study, what
the study's own slides disagree on, and the order of the parts' sections."""

from __future__ import annotations

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016.breakdown import breakdown_section
from asyncsgd.reproduce.cong2016.eamsgd import eamsgd_section
from asyncsgd.reproduce.cong2016.engines import engines_section
from asyncsgd.reproduce.cong2016.momentum import momentum_section
from asyncsgd.reproduce.cong2016.numbers import learner_counts, mean_of
from asyncsgd.reproduce.cong2016.opening import verdict_section
from asyncsgd.reproduce.cong2016.plan import BREAKDOWN, IMAGE, RATES, TEXT
from asyncsgd.reproduce.cong2016.rates import rates_section
from asyncsgd.reproduce.cong2016.ratio import ratio_section
from asyncsgd.reproduce.cong2016.speedup import speedup_section
from asyncsgd.reproduce.cong2016.tuned import tuned_section
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, provenance_section, scale, select


def differences_section(doc: Document, res: StudyResults) -> None:
    rates, image, text = res.view(RATES), res.view(IMAGE), res.view(TEXT)
    breakdown = res.view(BREAKDOWN)
    doc.heading("Where this reproduction differs from the study")
    hardware = f"{res.cores} CPU cores" if res.cores else "this machine's CPUs"
    seeds = len(rates.definition.get("grid", {}).get("seed", [rates.definition.get("seed", 0)]))
    model = rates.definition.get("model")
    hidden = f" {rates.definition.get('hidden')}" if model == "mlp" else ""
    doc.table(
        ["", "study", "this reproduction"],
        [
            ["image set", f"CIFAR-10, {pub.CIFAR10_TRAIN:,} training images",
             f"`{rates.definition.get('dataset')}`"],
            ["image model", "not given", f"`{model}`{hidden}"],
            ["text set", "NLC-F, in-house finance NLP (proprietary)", f"`{text.definition.get('dataset')}`, "
             f"{text.definition.get('text_features')} over {text.definition.get('vocab_size')} words"],
            ["budget", f"{pub.PUBLISHED_EPOCHS} epochs (CIFAR-10), {pub.TEXT_EPOCHS} (NLC-F)",
             f"{image.definition.get('epochs')} epochs (image), {text.definition.get('epochs')} (text)"],
            ["mini-batch M", "not given", f"{rates.definition.get('batch_size')}"],
            ["learners", "one per K80 GPU, sharded PS on the Power8 host",
             f"(a), (b): `{rates.definition.get('engine')}` engine, simulated learners with "
             f"`{rates.definition.get('delay')}` compute times; (c), (g): "
             f"`{breakdown.definition.get('engine')}` engine, processes on {hardware}"],
            ["gradients", "convention not stated", "batch means (lr = M·γ in Lian's summed convention)"],
            ["seeds", "one run per curve", f"{seeds} per point, mean ± std"],
        ],
    )  # fmt: skip
    best = mean_of(select(rates.runs, method="practical"), "best_test_accuracy")
    taus = [(p, mean_of(select(rates.runs, method="practical", learners=p), "tau_mean"))
            for p in learner_counts(rates)]  # fmt: skip
    tau_text = ", ".join(f"{t:.1f} (p = {p})" for p, t in taus if t is not None)
    doc.bullets([
        "**Data and model**: the study's CIFAR-10 model reached "
        f"{pub.PRACTICAL_ACCURACY[1][pub.PUBLISHED_EPOCHS]}% "
        f"with one learner; our practical-rate runs reach {'–' if best is None else f'{best:.1f}%'} at "
        "best, so absolute accuracies are not comparable: compare shapes and gaps (more learners "
        "against fewer, one rate against the other, one method against the other), not levels.",
        "**Budget**: fewer epochs than the study; the tables compare at equal fractions of the budget.",
        "**Hardware**: (a) and (b) run in the simulator, which reproduces the staleness of p "
        f"asynchronous learners (mean τ measured in (a): {tau_text or '–'}) but not their wall time; "
        "the study's learners were GPUs. (c) is measured on this machine's CPUs, and (g) sets the "
        "simulator beside learner processes on them.",
        "**Unstated settings**: the study's model, M, EAMSGD parameters and how it measured L are not "
        "published; the values used here are stated in each part and in the sweep files.",
    ])  # fmt: skip


def inconsistency_section(doc: Document, res: StudyResults) -> None:
    """What the study's own slides disagree on, from the published numbers alone."""
    if not select(res.view(IMAGE).runs):
        return
    last = pub.PUBLISHED_EPOCHS
    slide7 = [pub.PRACTICAL_ACCURACY[p][last] for p in (8, 16)]
    slides14 = [pub.EAMSGD_CIFAR[p]["test"][0] for p in (8, 16)]
    peaks = [v["test_peak"] for v in pub.EAMSGD_TEXT.values()]
    lo, hi = min(min(p) for p in peaks), max(max(p) for p in peaks)
    doc.paragraph(
        f"The study's own Downpour numbers disagree between slides: at p = 8 and 16 Downpour reaches "
        f"{slide7[0]}% and {slide7[1]}% on slide 7 but {slides14[0]}% and {slides14[1]}% on slides 14–15, "
        "which suggests other settings in the EAMSGD comparison (the slides do not say). NLC-F's test "
        f"accuracy peaks early ({lo}–{hi}% around epochs "
        f"{pub.TEXT_PEAK_EPOCHS[0]}–{pub.TEXT_PEAK_EPOCHS[1]}) "
        "and then degrades, a sign of a rate too high for late training.",
    )


def report(res: StudyResults) -> Document:
    doc = Document(f"Reproduction of Bhardwaj & Cong (2016), {scale(res.plan)}")
    doc.paragraph(
        f"{pub.CONG}. The study asks why asynchronous SGD does not speed up linearly with the number "
        "of learners p, and answers: the learning rate the linear-speed-up analysis assumes is tiny, the "
        "practical one shows sub-linear speed-up, and in finite time the best guarantee for p learners "
        "is about p/α worse than for one. This report reruns its four experiments with asyncsgd, "
        "sets the published numbers (digitised from the slides) beside ours, and adds four the study "
        "did not run: (e) the speed-up itself, time to a target accuracy against p, beside what the "
        "theory predicts, (f) Downpour with the momentum EAMSGD has, (g) the simulator against a real "
        "engine (learner processes, their schedule replayed in the simulator) and (h) both methods at "
        "learning rates tuned on a validation split.",
    )
    verdict_section(doc, res)
    differences_section(doc, res)
    rates_section(doc, res)
    eamsgd_section(doc, res, IMAGE, pub.EAMSGD_CIFAR, pub.EAMSGD_CIFAR_SOURCE)
    eamsgd_section(doc, res, TEXT, pub.EAMSGD_TEXT, pub.EAMSGD_TEXT_SOURCE)
    inconsistency_section(doc, res)
    breakdown_section(doc, res)
    ratio_section(doc, res)
    speedup_section(doc, res)
    momentum_section(doc, res)
    engines_section(doc, res)
    tuned_section(doc, res)
    provenance_section(doc, res)
    return doc
