"""The sandbox's HyP3 API: users, credits, jobs and their life cycle, validated as ASF validates.

`service` serves `/user`, `/costs` and `/jobs`; `jobs` keeps the job store; `validate` checks jobs
against ASF's job specs and cost tables; `multiburst` checks INSAR_ISCE_MULTI_BURST burst sets.
"""
