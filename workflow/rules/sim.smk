# Stage sim: the benchmarks of shift_core.bench on the emulated fabric, the fault matrix, the stage manifest.
# Time on the sim fabric is virtual; config `timeline.time_scale` compresses Fig 7's axis (see config/README.md).


rule bench:
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
    input:
        expand("data/sim/{bench}.json", bench=SIM_BENCHES),
        "data/sim/faults/faults.json",
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
