"""Fig 8b: SHIFT's fallback downtime (first error WC -> first successful WC after fallback) per fault site and
operation, one panel per backend that ran it (``data/<backend>/downtime.csv``, same columns as the sim's)."""

from shift_core.bench.figure import backend_bars, backend_frames, load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 8b: SHIFT fallback downtime per fault site and operation"
META = {"title": TITLE, "paper_item": "Fig 8b"}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    frames = backend_frames(smk.input[0])
    style()
    g, flat = backend_bars(frames, x="site", y="downtime_us", hue="op",
                           flat_note="every bar ≈ {value:.3g} µs: the emulator's fixed\nfallback cost, the same for "
                                     "every site\nand op (by construction, not a measurement)")
    g.set_axis_labels("fault site", "downtime (µs)")
    g.figure.suptitle(TITLE, y=1.04)
    caption = ("Mean downtime ± sd over the fault schedules, per backend (panels have their own scale). "
               "The paper reports about 0.7 ms on ConnectX NICs.")
    if flat:
        caption += (f" On {', '.join(flat)} every bar has the same value: the emulator charges a fixed cost for "
                    "the fallback, so this panel shows the model's constant, not a measured downtime.")
    if set(frames) == {"sim"}:
        caption += " No rxe or nic downtime table in this run, so only the emulator's panel is drawn."
    save(g.figure, smk.output[0], {**META, "caption": caption, "backends": list(frames)})
