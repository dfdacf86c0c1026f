"""MintPy time-series analysis of interferogram stacks.

`Analyzer.create('Hyp3_SBAS', workdir=...)` builds `hyp3_sbas.Hyp3SBASAnalyzer`; `base.BaseAnalyzer`
is the processor-agnostic part (prep, template, reference point, step-by-step run).
"""
