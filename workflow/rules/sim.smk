# Stage sim: the benchmarks of shift_core.bench on the emulated fabric, the fault matrix, the stage manifest.
# Time on the sim fabric is virtual; config `timeline.time_scale` compresses Fig 7's axis (see config/README.md).


rule bench:
    """Run one benchmark of shift_core.bench on the sim fabric (timeline = Fig 7, downtime and detection =
    Fig 8b, verbs_cost = Fig 9, latency = Table 2, training = Fig 10, memory_cost = section 4.2) and write
    its samples (CSV) and summary metrics (JSON) under data/sim/."""
    input:
        get_bench_sources,
    output:
        csv="data/sim/{bench}.csv",
        json="data/sim/{bench}.json",
    log:
        "logs/sim/{bench}.log",
    benchmark:
        "logs/sim/{bench}.benchmark.tsv"
    threads: get_bench_threads
    params:
        settings=get_bench_settings,
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/bench.py"


rule fault_matrix:
    """Run seeded fault schedules x workload x strategy on the sim fabric (`shift faults`) and judge every run
    with the model: correct, error surfaced, silent corruption or stall (data/sim/faults/)."""
    input:
        get_matrix_sources(),
    output:
        json="data/sim/faults/faults.json",
        csv="data/sim/faults/faults.csv",
    log:
        "logs/sim/faults.log",
    benchmark:
        "logs/sim/faults.benchmark.tsv"
    params:
        runs=config["faults"]["runs"],
        seed=config["seed"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/fault_matrix.py"


rule sim_manifest:
    """Provenance of the sim stage: every benchmark's and the fault matrix's status, and the stage's measured
    wall time."""
    input:
        results=[*expand("data/sim/{bench}.json", bench=SIM_BENCHES), "data/sim/faults/faults.json"],
        benchmarks=[*expand("logs/sim/{bench}.benchmark.tsv", bench=SIM_BENCHES), "logs/sim/faults.benchmark.tsv"],
    output:
        "data/sim/manifest.json",
    log:
        "logs/sim/manifest.log",
    params:
        stage="sim",
        backend="sim",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/stage_manifest.py"
