//! The store of `store.disabled: true`: nothing is written anywhere, every migration is
//! pending on every run, and extracted values live only as long as the run.

use std::collections::BTreeMap;

use super::{
    Applied, Direction, Outcome, RunRecord, RunStart, StageRun, StateError, Store, now_rfc3339,
};

/// A store that keeps state in memory for one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    applied: BTreeMap<u64, Applied>,
    env: BTreeMap<(u64, String), String>,
    next_id: i64,
    stage_runs: Vec<StageRun>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn describe(&self) -> String {
        "disabled (nothing is recorded)".into()
    }
    fn applied(&self) -> Result<Vec<Applied>, StateError> {
        Ok(self.applied.values().cloned().collect())
    }
    fn stored_env(&self) -> Result<Vec<(u64, String, String)>, StateError> {
        Ok(self
            .env
            .iter()
            .map(|((v, n), val)| (*v, n.clone(), val.clone()))
            .collect())
    }
    fn in_doubt(&self) -> Result<Vec<RunRecord>, StateError> {
        Ok(Vec::new())
    }
    fn history(&self, _limit: Option<usize>) -> Result<Vec<RunRecord>, StateError> {
        Ok(Vec::new())
    }
    fn begin(&mut self, _start: RunStart<'_>) -> Result<i64, StateError> {
        self.next_id += 1;
        Ok(self.next_id)
    }
    fn succeed(
        &mut self,
        _run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
    ) -> Result<(), StateError> {
        match start.direction {
            Direction::Up => {
                self.applied.insert(
                    start.version,
                    Applied {
                        version: start.version,
                        applied_at: now_rfc3339(),
                        name: Some(start.name.to_string()),
                        checksum: Some(start.checksum.to_string()),
                    },
                );
                for (k, v) in &outcome.env {
                    self.env.insert((start.version, k.clone()), v.clone());
                }
            }
            Direction::Down => {
                self.applied.remove(&start.version);
                self.env.retain(|(v, _), _| *v != start.version);
            }
        }
        Ok(())
    }
    fn fail(&mut self, _run_id: i64, _outcome: &Outcome) -> Result<(), StateError> {
        Ok(())
    }
    fn resolve(&mut self, run_id: i64, _applied: bool) -> Result<(), StateError> {
        Err(StateError::NotInDoubt(run_id))
    }
    fn record_stage_run(&mut self, run: &StageRun) -> Result<(), StateError> {
        self.stage_runs.push(run.clone());
        Ok(())
    }
    fn last_stage_run(&self, stage: &str) -> Result<Option<StageRun>, StateError> {
        Ok(self
            .stage_runs
            .iter()
            .rev()
            .find(|r| r.stage == stage)
            .cloned())
    }
}
