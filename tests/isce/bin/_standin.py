"""Shared code of the ISCE2 topsStack stand-ins (tests only; ISCE2 is not on PyPI).

`stackSentinel.py` here parses the real script's options and writes run files and config
files laid out as ISCE2's topsStack (Stack.py, reference/secondary naming) writes them for the
interferogram workflow. The commands it writes call the stand-in `SentinelWrapper.py`,
`subsetReference.py`, `invertMisreg.py` and `extractCommonValidRegion.py` of this folder,
which really run: they sleep a little, create the outputs named in their config, and append
one line per run to `<cwd>/.standin_runs.log` ("<name> <start> <end> <pid>").

Environment knobs:
    ISCE_STANDIN_SLEEP   seconds every command sleeps (default 0.05)
    ISCE_STANDIN_SLOW    "regex:seconds": commands whose name matches sleep that long instead
    ISCE_STANDIN_FAIL    regex: commands whose name matches exit 1 (failing on demand)
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import re
import sys
import time

STANDIN_MARK = "insarhub-topsstack-standin"
RUNS_LOG = ".standin_runs.log"


# ---- stackSentinel.py ------------------------------------------------------------------------


def create_parser() -> argparse.ArgumentParser:
    """The options of ISCE2's stackSentinel.py (same names, dests and defaults)."""
    p = argparse.ArgumentParser(description="Preparing the directory structure and config files "
                                "for stack processing of Sentinel data")
    p.add_argument("-s", "--slc_directory", dest="slc_dirname", type=str, required=True)
    p.add_argument("-o", "--orbit_directory", dest="orbit_dirname", type=str, required=True)
    p.add_argument("-a", "--aux_directory", dest="aux_dirname", type=str, required=True)
    p.add_argument("-w", "--working_directory", dest="work_dir", type=str, default="./")
    p.add_argument("-d", "--dem", dest="dem", type=str, required=True)
    p.add_argument("-m", "--reference_date", dest="reference_date", type=str, default=None)
    p.add_argument("-c", "--num_connections", dest="num_connections", type=str, default="1")
    p.add_argument("-n", "--swath_num", dest="swath_num", type=str, default="1 2 3")
    p.add_argument("-b", "--bbox", dest="bbox", type=str, default=None)
    p.add_argument("-x", "--exclude_dates", dest="exclude_dates", type=str, default=None)
    p.add_argument("-i", "--include_dates", dest="include_dates", type=str, default=None)
    p.add_argument("--start_date", dest="startDate", type=str, default=None)
    p.add_argument("--stop_date", dest="stopDate", type=str, default=None)
    p.add_argument("-z", "--azimuth_looks", dest="azimuthLooks", type=str, default="3")
    p.add_argument("-r", "--range_looks", dest="rangeLooks", type=str, default="9")
    p.add_argument("-f", "--filter_strength", dest="filtStrength", type=str, default="0.5")
    p.add_argument("--snr_misreg_threshold", dest="snrThreshold", type=str, default="10")
    p.add_argument("-p", "--polarization", dest="polarization", type=str, default="vv")
    p.add_argument("-C", "--coregistration", dest="coregistration", type=str, default="NESD",
                   choices=["geometry", "NESD"])
    p.add_argument("-O", "--num_overlap_connections", dest="num_overlap_connections", type=str,
                   default="3")
    p.add_argument("-e", "--esd_coherence_threshold", dest="esdCoherenceThreshold", type=str,
                   default="0.85")
    p.add_argument("-W", "--workflow", dest="workflow", type=str, default="interferogram",
                   choices=["slc", "correlation", "interferogram", "offset"])
    p.add_argument("-u", "--unw_method", dest="unwMethod", type=str, default="snaphu",
                   choices=["icu", "snaphu"])
    p.add_argument("-rmFilter", "--rmFilter", dest="rmFilter", action="store_true", default=False)
    p.add_argument("--param_ion", dest="param_ion", type=str, default=None)
    p.add_argument("--num_connections_ion", dest="num_connections_ion", type=str, default="3")
    p.add_argument("-useGPU", "--useGPU", dest="useGPU", action="store_true", default=False)
    p.add_argument("--num_proc", "--num_process", dest="numProcess", type=int, default=1)
    p.add_argument("--num_proc4topo", "--num_process4topo", dest="numProcess4topo", type=int,
                   default=1)
    p.add_argument("-t", "--text_cmd", dest="text_cmd", type=str, default="")
    p.add_argument("-V", "--virtual_merge", dest="virtualMerge", type=str, default=None,
                   choices=["True", "False"])
    return p


def safe_files(slc_dirname: str) -> list[str]:
    if os.path.isfile(slc_dirname):
        with open(slc_dirname) as fh:
            return [line.strip() for line in fh if line.strip()]
    files = sorted(glob.glob(os.path.join(slc_dirname, "S1*_IW_SLC*zip")))
    return files or sorted(glob.glob(os.path.join(slc_dirname, "S1*_IW_SLC*SAFE")))


def select_neighbor_pairs(dates: list[str], num_connections: str) -> list[tuple[str, str]]:
    n = len(dates) - 1 if num_connections == "all" else int(num_connections)
    return [(dates[i], dates[j]) for i in range(len(dates) - 1)
            for j in range(i + 1, i + n + 1) if j < len(dates)]


class RunWriter:
    """Writes run_files/run_NN_<name> and configs/config_* as topsStack's Stack.run does."""

    def __init__(self, inps: argparse.Namespace) -> None:
        self.inps = inps
        self.work = inps.work_dir
        self.run_dir = os.path.join(self.work, "run_files")
        self.config_dir = os.path.join(self.work, "configs")
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(self.config_dir, exist_ok=True)
        self.index = 0

    def path(self, rel: str) -> str:
        return os.path.join(self.work, rel)

    def config(self, name: str, function: str, items: dict[str, str]) -> str:
        path = os.path.join(self.config_dir, name)
        with open(path, "w") as fh:
            fh.write("[Common]\n##########################\n")
            fh.write("###################################\n[Function-1]\n")
            fh.write(f"{function} : \n")
            for key, value in items.items():
                fh.write(f"{key} : {value}\n")
        return path

    def step(self, name: str, lines: list[str]) -> None:
        self.index += 1
        numproc = self.inps.numProcess
        path = os.path.join(self.run_dir, f"run_{self.index:02d}_{name}")
        print("writing ", path)
        with open(path, "w") as fh:
            for count, line in enumerate(lines, start=1):
                if numproc > 1:
                    fh.write(f"{self.inps.text_cmd}{line} &\n")
                    if count % numproc == 0 or count == len(lines):
                        fh.write("wait\n\n")
                else:
                    fh.write(f"{self.inps.text_cmd}{line}\n")

    def wrapper(self, name: str, function: str, items: dict[str, str]) -> str:
        return "SentinelWrapper.py -c " + self.config(name, function, items)


def interferogram_stack(inps: argparse.Namespace, dates: list[str], reference: str,
                        pairs: list[tuple[str, str]]) -> None:
    w = RunWriter(inps)
    secondaries = [d for d in dates if d != reference]
    looks = {"range_looks": inps.rangeLooks, "azimuth_looks": inps.azimuthLooks}

    def slc(date: str) -> str:
        return w.path("reference") if date == reference else w.path(f"coreg_secondarys/{date}")

    w.step("unpack_topo_reference", [w.wrapper("config_reference", "topo", {
        "outdir": w.path("reference"), "geom_referenceDir": w.path("geom_reference"),
        "dem": inps.dem, "swaths": inps.swath_num, "bbox": str(inps.bbox)})])
    w.step("unpack_secondary_slc", [w.wrapper(f"config_secondary_{d}", "Sentinel1_TOPS", {
        "outdir": w.path(f"secondarys/{d}"), "swaths": inps.swath_num}) for d in secondaries])
    w.step("average_baseline", [w.wrapper(f"config_baseline_{d}", "computeBaseline", {
        "reference": w.path("reference/"), "secondary": w.path(f"secondarys/{d}"),
        "baseline_file": w.path(f"baselines/{reference}_{d}/{reference}_{d}.txt")})
        for d in secondaries])
    if inps.coregistration == "NESD":
        w.step("extract_burst_overlaps", [
            f"subsetReference.py -m {w.path('reference')} -g {w.path('geom_reference')}"])
        w.step("overlap_geo2rdr", [w.wrapper(f"config_overlap_geo2rdr_{d}", "geo2rdr", {
            "coregSLCdir": w.path(f"coreg_secondarys/{d}"), "overlap": "True"})
            for d in secondaries])
        w.step("overlap_resample", [w.wrapper(f"config_overlap_resample_{d}",
                                              "resamp_withCarrier", {
            "coregdir": w.path(f"coreg_secondarys/{d}"), "overlap": "True"})
            for d in secondaries])
        overlap_pairs = select_neighbor_pairs(dates, inps.num_overlap_connections)
        w.step("pairs_misreg", [w.wrapper(f"config_misreg_{a}_{b}", "estimateAzimuthMisreg", {
            "out_azimuth": w.path(f"misreg/azimuth/pairs/{a}_{b}/{a}_{b}.txt"),
            "out_range": w.path(f"misreg/range/pairs/{a}_{b}/{a}_{b}.txt")})
            for a, b in overlap_pairs])
        w.step("timeseries_misreg", [
            f"invertMisreg.py -i {w.path('misreg/azimuth/pairs/')} -o {w.path('misreg/azimuth/dates/')}",
            f"invertMisreg.py -i {w.path('misreg/range/pairs/')} -o {w.path('misreg/range/dates/')}"])
    w.step("fullBurst_geo2rdr", [w.wrapper(f"config_fullBurst_geo2rdr_{d}", "geo2rdr", {
        "coregSLCdir": w.path(f"coreg_secondarys/{d}"), "overlap": "False"})
        for d in secondaries])
    w.step("fullBurst_resample", [w.wrapper(f"config_fullBurst_resample_{d}",
                                            "resamp_withCarrier", {
        "coregdir": w.path(f"coreg_secondarys/{d}"), "overlap": "False"}) for d in secondaries])
    w.step("extract_stack_valid_region", [
        f"extractCommonValidRegion.py -m {w.path('reference')} -s {w.path('coreg_secondarys')}"])
    merges = [w.wrapper(f"config_merge_{reference}", "mergeBursts", {
        "outfile": w.path(f"merged/SLC/{reference}/{reference}.slc"), **looks})]
    for geom in ("lat", "lon", "los", "hgt", "shadowMask", "incLocal"):
        merges.append(w.wrapper(f"config_merge_{geom}", "mergeBursts", {
            "outfile": w.path(f"merged/geom_reference/{geom}.rdr"), **looks}))
    for d in secondaries:
        merges.append(w.wrapper(f"config_merge_{d}", "mergeBursts", {
            "outfile": w.path(f"merged/SLC/{d}/{d}.slc"), **looks}))
    w.step("merge_reference_secondary_slc", merges)
    w.step("generate_burst_igram", [w.wrapper(f"config_generate_igram_{a}_{b}", "generateIgram", {
        "reference": slc(a), "secondary": slc(b),
        "interferogram": w.path(f"interferograms/{a}_{b}"), "interferogram_prefix": "fine"})
        for a, b in pairs])
    w.step("merge_burst_igram", [w.wrapper(f"config_merge_igram_{a}_{b}", "mergeBursts", {
        "outfile": w.path(f"merged/interferograms/{a}_{b}/fine.int"), **looks})
        for a, b in pairs])
    w.step("filter_coherence", [w.wrapper(f"config_igram_filt_coh_{a}_{b}", "FilterAndCoherence", {
        "input": w.path(f"merged/interferograms/{a}_{b}/fine.int"),
        "filt": w.path(f"merged/interferograms/{a}_{b}/filt_fine.int"),
        "coh": w.path(f"merged/interferograms/{a}_{b}/filt_fine.cor"),
        "strength": inps.filtStrength, **looks}) for a, b in pairs])
    w.step("unwrap", [w.wrapper(f"config_igram_unw_{a}_{b}", "unwrap", {
        "ifg": w.path(f"merged/interferograms/{a}_{b}/filt_fine.int"),
        "unw": w.path(f"merged/interferograms/{a}_{b}/filt_fine.unw"),
        "coh": w.path(f"merged/interferograms/{a}_{b}/filt_fine.cor"),
        "method": inps.unwMethod, "rlks": inps.rangeLooks, "alks": inps.azimuthLooks})
        for a, b in pairs])


def stack_sentinel_main(argv: list[str]) -> int:
    inps = create_parser().parse_args(argv)
    inps.work_dir = os.path.abspath(inps.work_dir)
    inps.dem = os.path.abspath(inps.dem)
    if os.path.exists(os.path.join(inps.work_dir, "run_files")):
        print("run_files folder exists.")
        print(os.path.join(inps.work_dir, "run_files"), " already exists.")
        print("Please remove or rename this folder and try again.")
        return 1
    if inps.workflow != "interferogram":
        print(f"stand-in: only the interferogram workflow is simulated, not {inps.workflow}")
        return 1
    files = safe_files(inps.slc_dirname)
    if len(files) == 0:
        raise Exception("No SAFE file found")
    if len(files) == 1:
        raise Exception("At least two SAFE file is required. Only one SAFE file found.")
    print("Number of SAFE files found: " + str(len(files)))
    with open("SAFE_files.txt", "w") as fh:
        fh.writelines(f"{f}\n" for f in files)
    dates = sorted({os.path.basename(f).split("_")[5][:8] for f in files})
    reference = inps.reference_date or dates[0]
    if reference not in dates:
        print(f"reference date {reference} is not among the dates {dates}")
        return 1
    pairs = select_neighbor_pairs(dates, inps.num_connections)
    print(f"selecting pairs with {inps.num_connections} nearest neighbor connections: {len(pairs)}")
    print("Coregistration method: ", inps.coregistration)
    print("Workflow: ", inps.workflow)
    interferogram_stack(inps, dates, reference, pairs)
    return 0


# ---- the commands of the run files -----------------------------------------------------------


def read_config(path: str) -> tuple[str, dict[str, str]]:
    function, items = "", {}
    with open(path) as fh:
        for line in fh:
            if " : " not in line and not line.rstrip().endswith(":"):
                continue
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if not value and not function:
                function = key
            elif value:
                items[key] = value
    return function, items


def simulate(name: str, outputs: list[str], dirs: list[str]) -> int:
    """Sleep, fail on demand, create the outputs and record the run."""
    start = time.time()
    seconds = float(os.environ.get("ISCE_STANDIN_SLEEP", "0.05"))
    slow = os.environ.get("ISCE_STANDIN_SLOW", "")
    if slow:
        pattern, _, value = slow.rpartition(":")
        if re.search(pattern, name):
            seconds = float(value)
    time.sleep(seconds)
    fail = os.environ.get("ISCE_STANDIN_FAIL", "")
    failed = bool(fail) and re.search(fail, name) is not None
    if not failed:
        for d in dirs:
            os.makedirs(d, exist_ok=True)
        for out in outputs:
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "a"):
                pass
    line = f"{name} {start:.3f} {time.time():.3f} {os.getpid()}{' FAILED' if failed else ''}\n"
    fd = os.open(RUNS_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    if failed:
        print(f"{stamp} {name}: simulated failure (ISCE_STANDIN_FAIL={fail})", file=sys.stderr)
        return 1
    print(f"{stamp} {name}: done")
    return 0


def sentinel_wrapper_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="stand-in of topsStack SentinelWrapper.py")
    parser.add_argument("-c", "--config", required=True)
    args = parser.parse_args(argv)
    function, items = read_config(args.config)
    outputs = [items[k] for k in ("baseline_file", "outfile", "filt", "coh", "unw",
                                  "out_azimuth", "out_range") if k in items]
    dirs = [items[k] for k in ("outdir", "geom_referenceDir", "interferogram", "coregSLCdir",
                               "coregdir") if k in items]
    print(f"running {function} from {args.config}")
    return simulate(os.path.basename(args.config), outputs, dirs)


def script_main(script: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=f"stand-in of topsStack {script}")
    parser.add_argument("-m")
    parser.add_argument("-g")
    parser.add_argument("-s")
    parser.add_argument("-i")
    parser.add_argument("-o")
    args = parser.parse_args(argv)
    parts = [p for v in (args.i, args.s, args.g) if v for p in v.rstrip("/").split("/")[-2:]]
    name = "_".join([script, *parts])
    dirs = [args.o] if args.o else []
    return simulate(name, [], dirs)
