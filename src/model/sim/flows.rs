//! Workflows in the loop: a request of a workflow class is a *flow*, and
//! each visit of one of its serving stages a *task* — a request in the
//! slab, queued and served on the stage's pool like any other, with the
//! class of its flow (so every pool's policy sees it as that class's).
//!
//! Which timer runs where:
//! - the user's patience (the class's `patience`) is one timer per attempt
//!   of the workflow, from its arrival. When it runs out the user leaves if
//!   no stage of theirs is in service; otherwise they wait for it and leave
//!   the next time the workflow would have to queue. (The timer's deadline
//!   is drawn when the attempt starts, but its event is scheduled only
//!   when a stage first has to wait — in a queue or a stage retry's
//!   backoff — as a one-stage request's is: an attempt served at once
//!   everywhere costs no event, and one whose deadline passed in service
//!   leaves at its next queue, exactly as if the timer had fired.) Once a stage is
//!   deferred ("we'll notify you"), the timer restarts with the class's
//!   `deferred_patience`. A user who leaves ends the attempt `abandoned`;
//!   the class's `retry` may send the workflow again from its first stage.
//! - a stage's `timeout` bounds one stage attempt's wait in its queue; a
//!   timeout, a rejection by the pool's admission or a GPU failure retries
//!   the stage by its own `retry`, and when that is spent the workflow's
//!   attempt ends (`failed`, or `rejected` for admission), and the class's
//!   `retry` applies to the whole workflow.
//! - rate limits apply once per attempt of the workflow, at its arrival.
//!
//! Latency runs from the workflow's first arrival to the end of its last
//! stage; its wait is that latency less the service time on the path that
//! finished it (every stage of a sequence, the branch that closed a join).
//! A task of a flow that ended (cancelled) leaves its queue at once; one in
//! service runs to its end and is discarded.

use super::slab::{Request, State};
use super::{Event, NO_USER, Route, Setback, Sim, unit};
use crate::engine::{SimDuration, SimTime};
use crate::model::trace::Outcome;
use crate::model::workflow::{Join, StageWork, Target, WorkflowSpec};

/// No task (the end of a flow's list).
pub(super) const NO_TASK: u32 = u32::MAX;
/// Set in the trace key of a flow, to keep it apart from request slots.
pub(super) const FLOW_TRACE: u32 = 1 << 31;

/// One request of a workflow class, across its stages.
#[derive(Clone, Copy, Debug)]
pub(super) struct Flow {
    /// The first attempt's arrival.
    arrival: SimTime,
    /// Service on the path that got the attempt this far.
    served: SimDuration,
    /// First of the attempt's live tasks ([`NO_TASK`]: none).
    head: u32,
    user: u32,
    remaining: u32,
    /// When the user's patience with this attempt runs out (`SimTime::MAX`:
    /// never).
    deadline: SimTime,
    /// Bumped when an attempt starts or ends, or its user's patience timer
    /// restarts (deferral): older patience timers are stale.
    pub(super) generation: u32,
    /// Bumped when an attempt starts or ends (not when its timer restarts).
    run: u32,
    attempt: u32,
    class: u16,
    /// The fork whose join the flow waits at.
    fork: u16,
    /// Branches the join still waits for.
    pending: u16,
    deferred: bool,
    impatient: bool,
    started: bool,
    /// The patience timer of this attempt is scheduled.
    armed: bool,
}

impl Flow {
    /// The user who sent the flow (`None`: a class's own arrival).
    #[inline]
    pub(super) fn user(&self) -> Option<u32> {
        (self.user != NO_USER).then_some(self.user)
    }
}

/// What a task (a request of a workflow class) knows of its flow.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Task {
    flow: u32,
    /// The pool of the task's stage.
    pool: u32,
    /// The next task of the same flow ([`NO_TASK`]: the last).
    next: u32,
    stage: u16,
    /// Whether the flow arrived after the warm-up.
    measured: bool,
    /// The flow ended: the task is discarded when it leaves service or
    /// its retry comes due.
    orphan: bool,
}

impl Task {
    /// The flow of the task.
    #[inline]
    pub(super) fn flow(&self) -> u32 {
        self.flow
    }

    /// The stage of a live visit of a measured flow (`None` for a task
    /// whose flow ended, or arrived in the warm-up).
    pub(super) fn live_measured_stage(&self) -> Option<usize> {
        (self.measured && !self.orphan).then_some(self.stage as usize)
    }
}

impl<'a> Sim<'a> {
    /// The workflow of workflow class `class`.
    fn workflow_of(&self, class: usize) -> &'a WorkflowSpec {
        let sc: &'a crate::model::Scenario = self.scenario;
        match self.classes[class].route {
            Route::Workflow(w) => &sc.workflows[w as usize],
            Route::Pool(_) => unreachable!("only a workflow class has flows and tasks"),
        }
    }

    /// The pool that serves task `id`.
    #[inline(always)]
    pub(super) fn task_pool(&self, id: u32) -> usize {
        self.tasks[id as usize].pool as usize
    }

    /// The stage timeout of task `id`, if any.
    pub(super) fn task_timeout(&self, id: u32) -> Option<SimDuration> {
        let class = self.requests[id as usize].class as usize;
        let stage = self.tasks[id as usize].stage as usize;
        self.workflow_of(class).stages[stage].timeout
    }

    /// Mean service of task `id`'s stage on its pool, seconds.
    pub(super) fn task_mean_service_s(&self, id: u32) -> f64 {
        let class = self.requests[id as usize].class as usize;
        let stage = self.tasks[id as usize].stage as usize;
        match &self.workflow_of(class).stages[stage].work {
            StageWork::Serve { pool, service } => service.mean() / self.scenario.pools[*pool].speed,
            StageWork::Fork { .. } => 1.0,
        }
    }

    /// Whether task `id`'s flow arrived after the warm-up.
    #[inline(always)]
    pub(super) fn task_measured(&self, id: u32) -> bool {
        self.tasks[id as usize].measured
    }

    /// Whether the user of task `id`'s flow has run out of patience (the
    /// timer fired while a stage was in service, or would have: its
    /// deadline passed before any stage had to wait).
    #[inline(always)]
    pub(super) fn task_user_gone(&self, id: u32, now: SimTime) -> bool {
        let t = self.tasks[id as usize];
        let flow = &self.flows[t.flow as usize];
        !t.orphan && (flow.impatient || flow.deadline < now)
    }

    /// A stage of task `id`'s flow has to wait: schedule the user's
    /// patience timer for this attempt, if it is not yet.
    pub(super) fn arm_patience(&mut self, id: u32, now: SimTime) {
        let t = self.tasks[id as usize];
        let flow = &mut self.flows[t.flow as usize];
        if t.orphan || flow.armed || flow.deadline == SimTime::MAX {
            return;
        }
        if flow.deadline < now {
            // Past while a stage was in service: as if it had fired then.
            flow.impatient = true;
            return;
        }
        flow.armed = true;
        let generation = flow.generation;
        self.events.schedule(
            flow.deadline,
            Event::FlowPatience {
                flow: t.flow,
                generation,
            },
        );
    }

    /// A new request (first attempt) of workflow class `class` arrives.
    #[inline(always)]
    pub(super) fn new_flow(&mut self, class: usize, now: SimTime, user: Option<(u32, u32)>) {
        let (user, remaining) = user.unwrap_or((NO_USER, 0));
        self.total_arrivals += 1;
        let measured = now >= self.warmup;
        let c = &mut self.classes[class];
        if measured {
            c.stats.arrivals += 1;
            c.stats.attempts += 1;
        }
        c.bucket.arrivals += 1;
        let flow = Flow {
            arrival: now,
            served: SimDuration::ZERO,
            deadline: SimTime::MAX,
            head: NO_TASK,
            user,
            remaining,
            generation: 0,
            run: 0,
            attempt: 1,
            class: class as u16,
            fork: 0,
            pending: 0,
            deferred: false,
            impatient: false,
            started: false,
            armed: false,
        };
        let f = match self.free_flows.pop() {
            Some(f) => {
                let old = &self.flows[f as usize];
                let (generation, run) = (old.generation.wrapping_add(1), old.run.wrapping_add(1));
                self.flows[f as usize] = Flow {
                    generation,
                    run,
                    ..flow
                };
                f
            }
            None => {
                self.flows.push(flow);
                (self.flows.len() - 1) as u32
            }
        };
        if measured {
            self.tracer.arrived(f | FLOW_TRACE, class, now);
        }
        self.start_attempt(f, now);
    }

    /// An attempt of flow `f` starts: rate limits, the user's patience,
    /// then its first stage.
    #[inline(always)]
    fn start_attempt(&mut self, f: u32, now: SimTime) {
        let flow = &mut self.flows[f as usize];
        flow.generation = flow.generation.wrapping_add(1);
        flow.run = flow.run.wrapping_add(1);
        flow.served = SimDuration::ZERO;
        flow.impatient = false;
        flow.started = false;
        flow.deferred = false;
        flow.pending = 0;
        flow.deadline = SimTime::MAX;
        flow.armed = false;
        let (class, user) = (flow.class as usize, flow.user);
        let spec = &self.scenario.classes[class];
        let c = &mut self.classes[class];
        if let (Some(limit), Some(bucket)) = (&spec.limit, c.limit_bucket.as_mut())
            && !bucket.take(now, limit.rate_per_s, limit.burst)
        {
            self.flow_setback(f, now, Setback::Rejected);
            return;
        }
        if let (Some(limit), Some(slot)) = (&spec.limit, c.user_bucket)
            && user != NO_USER
            && !self.users[user as usize].buckets.get_mut(slot).take(
                now,
                limit.rate_per_s,
                limit.burst,
            )
        {
            self.flow_setback(f, now, Setback::Rejected);
            return;
        }
        if let Some(patience) = &spec.patience {
            let wait = patience.sample(&mut self.classes[class].patience_rng);
            // Scheduled when a stage first has to wait (`arm_patience`).
            self.flows[f as usize].deadline = now + wait;
        }
        self.enter_stage(f, 0, now);
    }

    /// Flow `f` enters stage `stage` (a skipped stage passes it on).
    fn enter_stage(&mut self, f: u32, stage: usize, now: SimTime) {
        let class = self.flows[f as usize].class as usize;
        let wf = self.workflow_of(class);
        let mut s = stage;
        loop {
            let st = &wf.stages[s];
            if !st.runs(class) {
                match st.next {
                    Target::Stage(t) => {
                        s = t;
                        continue;
                    }
                    _ => {
                        self.complete_flow(f, now);
                        return;
                    }
                }
            }
            match &st.work {
                StageWork::Serve { .. } => self.spawn_task(f, s, now),
                StageWork::Fork { branches, .. } => {
                    let running = branches
                        .iter()
                        .filter(|&&b| wf.stages[b].runs(class))
                        .count();
                    let flow = &mut self.flows[f as usize];
                    flow.fork = s as u16;
                    flow.pending = running as u16;
                    if running == 0 {
                        self.after_stage(f, s, now);
                        return;
                    }
                    // A branch may end the attempt at once (a rejection);
                    // one deferred only restarts the user's timer.
                    let run = flow.run;
                    for &b in branches.iter().filter(|&&b| wf.stages[b].runs(class)) {
                        self.spawn_task(f, b, now);
                        if self.flows[f as usize].run != run {
                            return;
                        }
                    }
                }
            }
            return;
        }
    }

    /// A visit of serving stage `stage` by flow `f`: a new task, submitted
    /// to the stage's pool.
    #[inline(always)]
    fn spawn_task(&mut self, f: u32, stage: usize, now: SimTime) {
        let flow = self.flows[f as usize];
        let class = flow.class as usize;
        let StageWork::Serve { pool, service } = &self.workflow_of(class).stages[stage].work else {
            unreachable!("only serving stages have tasks");
        };
        let speed = self.scenario.pools[*pool].speed;
        let st = &mut self.classes[class].stages[stage];
        let secs = service.sample_secs(&mut st.service_rng) / speed;
        let measured = flow.arrival >= self.warmup;
        if measured {
            st.stats.arrivals += 1;
            st.stats.attempts += 1;
        }
        st.bucket.arrivals += 1;
        let request = Request::new(class, now, SimDuration::from_secs_f64(secs));
        let id = self.requests.insert(request, None);
        if self.tasks.len() <= id as usize {
            self.tasks.resize(id as usize + 1, Task::default());
        }
        self.tasks[id as usize] = Task {
            flow: f,
            pool: *pool as u32,
            next: flow.head,
            stage: stage as u16,
            measured,
            orphan: false,
        };
        self.flows[f as usize].head = id;
        self.submit_task(id, now);
    }

    /// Task `id` started service: its stage's wait, the flow's trace.
    #[inline(always)]
    pub(super) fn task_started(&mut self, id: u32, now: SimTime) {
        let r = self.requests[id as usize];
        let t = self.tasks[id as usize];
        let st = &mut self.classes[r.class as usize].stages[t.stage as usize];
        let wait = now - r.first_arrival;
        if t.measured {
            st.stats.wait.record(wait);
        }
        st.bucket.started += 1;
        st.bucket.wait_nanos += u128::from(wait.0);
        // The flow's record is touched only for the trace (its first start).
        if !t.orphan && self.tracer.is_tracing() {
            let flow = &mut self.flows[t.flow as usize];
            if !flow.started {
                flow.started = true;
                self.tracer.started(t.flow | FLOW_TRACE, now);
            }
        }
    }

    /// Task `id` was served to its end on `pool`: its stage's statistics.
    #[inline(always)]
    pub(super) fn task_completed(&mut self, pool: usize, id: u32, now: SimTime) {
        let r = self.requests[id as usize];
        let t = self.tasks[id as usize];
        let st = &mut self.classes[r.class as usize].stages[t.stage as usize];
        if t.measured && !t.orphan {
            st.stats.completed += 1;
            st.stats.service.record(r.service);
        }
        st.bucket.completed += 1;
        st.bucket.service_nanos += u128::from(r.service.0);
        let p = &mut self.pools[pool];
        p.bucket.completions += 1;
        p.bucket.latency.record(now - r.first_arrival);
    }

    /// A task of a stage that was deferred: the flow is deferred, and its
    /// user's patience restarts as "we'll notify you".
    pub(super) fn task_deferred(&mut self, id: u32, now: SimTime) {
        let t = self.tasks[id as usize];
        let flow = &mut self.flows[t.flow as usize];
        if flow.deferred {
            return;
        }
        flow.deferred = true;
        let class = flow.class as usize;
        if t.measured {
            self.classes[class].stats.deferred += 1;
        }
        if let Some(patience) = &self.scenario.classes[class].deferred_patience {
            let wait = patience.sample(&mut self.classes[class].patience_rng);
            let flow = &mut self.flows[t.flow as usize];
            flow.generation = flow.generation.wrapping_add(1);
            flow.deadline = now + wait;
            flow.armed = true;
            let generation = flow.generation;
            self.events.schedule(
                now + wait,
                Event::FlowPatience {
                    flow: t.flow,
                    generation,
                },
            );
        }
    }

    /// Task `id` left service done and its GPU is free: free it, and move
    /// its flow on (or discard it, if its flow has ended).
    #[inline(always)]
    pub(super) fn task_done(&mut self, id: u32, now: SimTime) {
        let t = self.tasks[id as usize];
        let service = self.requests[id as usize].service;
        self.requests.remove(id);
        if t.orphan {
            return;
        }
        self.unlink(t.flow, id);
        let f = t.flow;
        let class = self.flows[f as usize].class as usize;
        let wf = self.workflow_of(class);
        match wf.stages[t.stage as usize].fork {
            Some(fork) => {
                let StageWork::Fork { join, .. } = wf.stages[fork].work else {
                    unreachable!("a branch belongs to a fork");
                };
                let flow = &mut self.flows[f as usize];
                match join {
                    Join::All => {
                        flow.pending -= 1;
                        if flow.pending == 0 {
                            // The last branch closed the join: its path.
                            flow.served += service;
                            self.after_stage(f, fork, now);
                        }
                    }
                    Join::First => {
                        flow.served += service;
                        flow.pending = 0;
                        self.cancel_tasks(f, now, false);
                        self.after_stage(f, fork, now);
                    }
                }
            }
            None => {
                self.flows[f as usize].served += service;
                self.after_stage(f, t.stage as usize, now);
            }
        }
    }

    /// Flow `f` is through stage `stage` (or its join): draw a route.
    fn after_stage(&mut self, f: u32, stage: usize, now: SimTime) {
        let class = self.flows[f as usize].class as usize;
        let st = &self.workflow_of(class).stages[stage];
        let mut target = st.next;
        if !st.routes.is_empty() {
            let u = unit(&mut self.classes[class].route_rng);
            let mut cumulative = 0.0;
            for &(p, to) in &st.routes {
                cumulative += p;
                if u < cumulative {
                    target = to;
                    break;
                }
            }
        }
        match target {
            Target::Stage(t) => self.enter_stage(f, t, now),
            Target::Done => self.complete_flow(f, now),
            Target::Refuse => self.flow_setback(f, now, Setback::Rejected),
        }
    }

    /// Flow `f` completed its last stage.
    #[inline(always)]
    fn complete_flow(&mut self, f: u32, now: SimTime) {
        let flow = self.flows[f as usize];
        let class = flow.class as usize;
        let latency = now - flow.arrival;
        let target = self.scenario.classes[class].latency_target;
        let c = &mut self.classes[class];
        if flow.arrival >= self.warmup {
            let st = &mut c.stats;
            st.completed += 1;
            st.latency.record(latency);
            st.wait.record(latency.saturating_sub(flow.served));
            if flow.deferred {
                st.deferred_latency.record(latency);
            }
            if target.is_some_and(|t| latency <= t) {
                st.slo_met += 1;
            }
        }
        if now >= self.warmup && now < self.arrivals_end {
            c.stats.completed_in_window += 1;
        }
        c.bucket.completions += 1;
        c.bucket.latency.record(latency);
        self.tracer
            .finished(f | FLOW_TRACE, now, Outcome::Completed, flow.attempt);
        self.end_flow(f, now);
    }

    /// Flow `f` reached its final outcome: free it, tell its user.
    #[inline(always)]
    fn end_flow(&mut self, f: u32, now: SimTime) {
        self.cancel_tasks(f, now, false);
        let flow = &mut self.flows[f as usize];
        flow.generation = flow.generation.wrapping_add(1);
        flow.run = flow.run.wrapping_add(1);
        let (user, remaining, class) = (flow.user, flow.remaining, flow.class);
        self.free_flows.push(f);
        self.total_finished += 1;
        if user != NO_USER {
            self.user_request_done(user, self.population_of(class), remaining, now);
        }
    }

    /// The attempt of flow `f` did not complete: retry the workflow after
    /// a backoff, or give up.
    pub(super) fn flow_setback(&mut self, f: u32, now: SimTime, how: Setback) {
        self.cancel_tasks(f, now, how == Setback::Abandoned);
        let flow = &mut self.flows[f as usize];
        flow.generation = flow.generation.wrapping_add(1);
        flow.run = flow.run.wrapping_add(1);
        let flow = *flow;
        let class = flow.class as usize;
        let measured = flow.arrival >= self.warmup;
        let c = &mut self.classes[class];
        c.attempt_setback(how, measured);
        match &self.scenario.classes[class].retry {
            Some(retry) if flow.attempt < retry.max_attempts => {
                let delay = retry.delay_s(flow.attempt, unit(&mut c.retry_rng));
                self.events.schedule(
                    now + SimDuration::from_secs_f64(delay),
                    Event::FlowRetry { flow: f },
                );
            }
            _ => {
                if measured {
                    c.stats.gave_up(how);
                }
                self.tracer
                    .finished(f | FLOW_TRACE, now, how.outcome(), flow.attempt);
                self.end_flow(f, now);
            }
        }
    }

    /// The client sends flow `f` again, from its first stage.
    pub(super) fn flow_retry(&mut self, f: u32, now: SimTime) {
        let flow = &mut self.flows[f as usize];
        flow.attempt += 1;
        let class = flow.class as usize;
        let c = &mut self.classes[class];
        if flow.arrival >= self.warmup {
            c.stats.attempts += 1;
        }
        c.bucket.retries += 1;
        self.start_attempt(f, now);
    }

    /// The user's patience with flow `f` ran out: they leave now unless a
    /// stage of theirs is in service, else at the next queue.
    pub(super) fn flow_patience(&mut self, f: u32, now: SimTime) {
        let mut id = self.flows[f as usize].head;
        while id != NO_TASK {
            if self.requests[id as usize].state == State::InService {
                self.flows[f as usize].impatient = true;
                return;
            }
            id = self.tasks[id as usize].next;
        }
        self.flow_setback(f, now, Setback::Abandoned);
    }

    /// Task `id` would queue, but its user has given up: the task goes,
    /// and the flow is abandoned.
    pub(super) fn task_user_left(&mut self, id: u32, now: SimTime) {
        let t = self.tasks[id as usize];
        if t.measured {
            let class = self.requests[id as usize].class as usize;
            self.classes[class].stages[t.stage as usize].stats.cancelled += 1;
        }
        self.unlink(t.flow, id);
        self.requests.remove(id);
        self.flow_setback(t.flow, now, Setback::Abandoned);
    }

    /// An attempt of task `id` did not complete: retry the stage after a
    /// backoff, or end the workflow's attempt.
    pub(super) fn task_setback(&mut self, id: u32, now: SimTime, how: Setback) {
        let t = self.tasks[id as usize];
        let class = self.requests[id as usize].class as usize;
        let pool = self.task_pool(id);
        let p = &mut self.pools[pool];
        match how {
            Setback::Rejected => p.bucket.rejected += 1,
            Setback::Failed => {
                p.bucket.failed += 1;
                if t.measured {
                    p.failures_lost += 1;
                }
            }
            Setback::Abandoned => {}
        }
        if t.orphan {
            self.requests.remove(id);
            return;
        }
        let attempt = self.requests.attempt(id);
        let retry = &self.workflow_of(class).stages[t.stage as usize].retry;
        let st = &mut self.classes[class].stages[t.stage as usize];
        match retry {
            Some(retry) if attempt < retry.max_attempts => {
                let delay = retry.delay_s(attempt, unit(&mut st.retry_rng));
                self.requests[id as usize].state = State::Backoff;
                self.events.schedule(
                    now + SimDuration::from_secs_f64(delay),
                    Event::RetryDue { request: id },
                );
                self.arm_patience(id, now);
            }
            _ => {
                if t.measured {
                    match how {
                        Setback::Rejected => st.stats.rejected += 1,
                        Setback::Abandoned => st.stats.timed_out += 1,
                        Setback::Failed => st.stats.failed += 1,
                    }
                }
                self.unlink(t.flow, id);
                self.requests.remove(id);
                let flow_how = match how {
                    Setback::Rejected => Setback::Rejected,
                    Setback::Abandoned | Setback::Failed => Setback::Failed,
                };
                self.flow_setback(t.flow, now, flow_how);
            }
        }
    }

    /// A stage retry of task `id` comes due.
    pub(super) fn task_retry(&mut self, id: u32, now: SimTime) {
        let t = self.tasks[id as usize];
        if t.orphan {
            self.requests.remove(id);
            return;
        }
        self.requests.next_attempt(id);
        if t.measured {
            let class = self.requests[id as usize].class as usize;
            self.classes[class].stages[t.stage as usize].stats.attempts += 1;
        }
        let pool = self.task_pool(id);
        self.pools[pool].bucket.retries += 1;
        self.submit_task(id, now);
    }

    /// Withdraw every live task of flow `f`: a waiting one leaves its
    /// queue (counted abandoned by its pool when `user_left`); one in
    /// service or backing off is discarded when it comes back.
    fn cancel_tasks(&mut self, f: u32, now: SimTime, user_left: bool) {
        let mut id = std::mem::replace(&mut self.flows[f as usize].head, NO_TASK);
        while id != NO_TASK {
            let t = self.tasks[id as usize];
            let r = self.requests[id as usize];
            let class = r.class as usize;
            if t.measured {
                self.classes[class].stages[t.stage as usize].stats.cancelled += 1;
            }
            match r.state {
                State::Waiting { counted } => {
                    let pool = self.task_pool(id);
                    if counted {
                        self.classes[class].queued.add(now, -1);
                    }
                    let p = &mut self.pools[pool];
                    p.waiting -= 1;
                    if r.deferred {
                        p.waiting_deferred -= 1;
                    }
                    p.queue.set(now, p.waiting);
                    if user_left {
                        p.bucket.abandoned += 1;
                    }
                    self.requests.remove(id);
                }
                State::InService | State::Backoff => self.tasks[id as usize].orphan = true,
                State::Free => unreachable!("a flow lists only live tasks"),
            }
            id = t.next;
        }
    }

    /// Take task `id` out of flow `f`'s list.
    #[inline(always)]
    fn unlink(&mut self, f: u32, id: u32) {
        let next = self.tasks[id as usize].next;
        let head = &mut self.flows[f as usize].head;
        if *head == id {
            *head = next;
            return;
        }
        let mut at = *head;
        while at != NO_TASK {
            let t = &mut self.tasks[at as usize];
            if t.next == id {
                t.next = next;
                return;
            }
            at = t.next;
        }
    }

    /// Attempts made so far by the flow traced as `key`.
    pub(super) fn flow_attempts(&self, key: u32) -> u32 {
        self.flows[(key & !FLOW_TRACE) as usize].attempt
    }

    /// Flows in the system at the end, and those of them measured, per class.
    pub(super) fn flows_in_system(&self) -> (u64, Vec<u64>) {
        let mut measured = vec![0u64; self.classes.len()];
        let mut free = vec![false; self.flows.len()];
        for &f in &self.free_flows {
            free[f as usize] = true;
        }
        let mut live = 0;
        for (flow, _) in self.flows.iter().zip(&free).filter(|(_, free)| !**free) {
            live += 1;
            if flow.arrival >= self.warmup {
                measured[flow.class as usize] += 1;
            }
        }
        (live, measured)
    }
}
