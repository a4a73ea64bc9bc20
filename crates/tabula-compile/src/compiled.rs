//! Lowering a validated [`Model`] into tapes: setup (once per parameter set), right-hand side,
//! Jacobian and outputs.

use std::collections::HashMap;
use std::sync::Arc;

use tabula_model::{BinOp, Expr, Func, Model, Sym};

use crate::graph::{Bin, Class, Graph, NodeId, Un};
use crate::tape::Tape;

/// Why a parameter set cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    /// A derived quantity, initial value or bioavailability is NaN or infinite.
    #[error("{what} `{name}` is {value} for this parameter set (check for division by zero or log of a non-positive number)")]
    NonFinite {
        /// Kind of quantity.
        what: &'static str,
        /// Its name.
        name: String,
        /// The offending value.
        value: f64,
    },
    /// A state starts below zero although it may not.
    #[error("initial value of state `{name}` is {value} < 0 for this parameter set")]
    NegativeInitial {
        /// State name.
        name: String,
        /// The value.
        value: f64,
    },
    /// A bioavailability is negative.
    #[error("bioavailability of route `{name}` is {value} < 0 for this parameter set")]
    NegativeBioavailability {
        /// Route name.
        name: String,
        /// The value.
        value: f64,
    },
    /// The parameter vector has the wrong length.
    #[error("expected {expected} parameter values, got {found}")]
    WrongLength {
        /// Number of model parameters.
        expected: usize,
        /// Number given.
        found: usize,
    },
}

/// Sizes of the compiled tapes, for benchmarks and documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapeStats {
    /// Distinct DAG nodes (= slots).
    pub slots: usize,
    /// Instructions run once per parameter set.
    pub setup: usize,
    /// Instructions per right-hand-side evaluation.
    pub rhs: usize,
    /// Instructions per Jacobian evaluation.
    pub jacobian: usize,
    /// Structurally non-zero Jacobian entries.
    pub jacobian_nonzeros: usize,
    /// Instructions per output evaluation.
    pub outputs: usize,
}

/// A model compiled for fast evaluation. Immutable and shareable across threads; each thread
/// evaluates through its own [`Workspace`].
#[derive(Debug)]
pub struct CompiledModel {
    model: Arc<Model>,
    template: Vec<f64>,
    n_params: usize,
    n_states: usize,
    time_slot: usize,
    eps_slot0: usize,
    setup: Tape,
    rhs: Tape,
    jac: Tape,
    out: Tape,
    derived_slots: Vec<u32>,
    initial_slots: Vec<u32>,
    bioav_slots: Vec<u32>,
    rhs_slots: Vec<u32>,
    jac_rows: Vec<u32>,
    jac_cols: Vec<u32>,
    jac_slots: Vec<u32>,
    output_slots: Vec<u32>,
    flux_slots: Vec<u32>,
}

/// Per-thread scratch space: the slot array. Allocated once, reused for every evaluation and
/// every virtual patient.
#[derive(Clone, Debug)]
pub struct Workspace {
    slots: Vec<f64>,
}

struct Lowering<'m> {
    g: Graph,
    model: &'m Model,
    derived: Vec<Option<NodeId>>,
    flux: Vec<Option<NodeId>>,
    output: Vec<Option<NodeId>>,
}

impl Lowering<'_> {
    fn lower(&mut self, e: &Expr) -> NodeId {
        match e {
            Expr::Const(v) => self.g.constant(*v),
            Expr::Time => self.g.time(),
            Expr::Sym(s) => match *s {
                Sym::Param(i) => self.g.param(i),
                Sym::State(i) => self.g.state(i),
                Sym::Derived(i) => match self.derived[i] {
                    Some(n) => n,
                    None => {
                        let n = self.lower(&self.model.derived[i].expr.clone());
                        self.derived[i] = Some(n);
                        n
                    }
                },
                Sym::Flux(i) => match self.flux[i] {
                    Some(n) => n,
                    None => {
                        let n = self.lower(&self.model.fluxes[i].rate.clone());
                        self.flux[i] = Some(n);
                        n
                    }
                },
                Sym::Output(i) => self.output[i]
                    .expect("outputs are lowered in order and may only use earlier outputs"),
                Sym::Route(_) => unreachable!("the checker rejects routes in expressions"),
            },
            Expr::Neg(a) => {
                let a = self.lower(a);
                self.g.neg(a)
            }
            Expr::Bin(op, a, b) => {
                let (a, b) = (self.lower(a), self.lower(b));
                match op {
                    BinOp::Add => self.g.add(a, b),
                    BinOp::Sub => self.g.sub(a, b),
                    BinOp::Mul => self.g.mul(a, b),
                    BinOp::Div => self.g.div(a, b),
                    BinOp::Pow => self.g.pow(a, b),
                    BinOp::Lt => self.g.bin(Bin::Lt, a, b),
                    BinOp::Le => self.g.bin(Bin::Le, a, b),
                    BinOp::Gt => self.g.bin(Bin::Gt, a, b),
                    BinOp::Ge => self.g.bin(Bin::Ge, a, b),
                    BinOp::Eq => self.g.bin(Bin::Eq, a, b),
                    BinOp::Ne => self.g.bin(Bin::Ne, a, b),
                    BinOp::And => self.g.bin(Bin::And, a, b),
                    BinOp::Or => self.g.bin(Bin::Or, a, b),
                }
            }
            Expr::Call(f, args) => {
                let a: Vec<NodeId> = args.iter().map(|x| self.lower(x)).collect();
                match f {
                    Func::Exp => self.g.un(Un::Exp, a[0]),
                    Func::Ln => self.g.un(Un::Ln, a[0]),
                    Func::Log10 => self.g.un(Un::Log10, a[0]),
                    Func::Sqrt => self.g.un(Un::Sqrt, a[0]),
                    Func::Abs => self.g.un(Un::Abs, a[0]),
                    Func::Not => self.g.un(Un::Not, a[0]),
                    Func::Pow => self.g.pow(a[0], a[1]),
                    Func::Min => a[1..]
                        .iter()
                        .fold(a[0], |acc, &x| self.g.bin(Bin::Min, acc, x)),
                    Func::Max => a[1..]
                        .iter()
                        .fold(a[0], |acc, &x| self.g.bin(Bin::Max, acc, x)),
                    Func::Clamp => {
                        let lo = self.g.bin(Bin::Max, a[0], a[1]);
                        self.g.bin(Bin::Min, lo, a[2])
                    }
                    Func::Hill => {
                        let xn = self.g.pow(a[0], a[2]);
                        let kn = self.g.pow(a[1], a[2]);
                        let den = self.g.add(kn, xn);
                        self.g.div(xn, den)
                    }
                    Func::If => self.g.select(a[0], a[1], a[2]),
                }
            }
        }
    }
}

/// Nodes reachable from `roots` (through children), as a mask.
fn reachable(g: &Graph, roots: &[NodeId], through: impl Fn(Class) -> bool) -> Vec<bool> {
    let mut mark = vec![false; g.nodes.len()];
    let mut stack: Vec<NodeId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if mark[id as usize] {
            continue;
        }
        mark[id as usize] = true;
        if through(g.class[id as usize]) {
            stack.extend(g.children(id));
        }
    }
    mark
}

/// The tape computing every node of `class` that `roots` need. Dynamic tapes stop at
/// parameter-only nodes (computed by the setup tape); the setup tape looks through dynamic nodes
/// to find the invariants they use.
fn tape_for(g: &Graph, roots: &[NodeId], class: Class) -> Tape {
    let mask = reachable(g, roots, |c| c >= class);
    let nodes: Vec<NodeId> = (0..g.nodes.len() as NodeId)
        .filter(|&i| mask[i as usize] && g.class[i as usize] == class)
        .collect();
    Tape::from_nodes(g, &nodes)
}

impl CompiledModel {
    /// Compiles a validated model.
    pub fn new(model: Arc<Model>) -> CompiledModel {
        let np = model.parameters.len();
        let ny = model.states.len();
        let no = model.outputs.len();
        let mut lw = Lowering {
            g: Graph::default(),
            model: &model,
            derived: vec![None; model.derived.len()],
            flux: vec![None; model.fluxes.len()],
            output: vec![None; no],
        };
        // Inputs first, at fixed slots: parameters, states, time, residual draws.
        for i in 0..np {
            lw.g.param(i);
        }
        for i in 0..ny {
            lw.g.state(i);
        }
        let time_slot = lw.g.time() as usize;
        let eps_slot0 = lw.g.nodes.len();
        for i in 0..no {
            lw.g.eps(i);
        }

        let derived_slots: Vec<u32> = (0..model.derived.len())
            .map(|i| lw.lower(&Expr::Sym(Sym::Derived(i))))
            .collect();
        let initial_slots: Vec<u32> = model.states.iter().map(|s| lw.lower(&s.initial)).collect();
        let bioav_slots: Vec<u32> = model
            .routes
            .iter()
            .map(|r| lw.lower(&r.bioavailability))
            .collect();
        let flux_slots: Vec<u32> = (0..model.fluxes.len())
            .map(|i| lw.lower(&Expr::Sym(Sym::Flux(i))))
            .collect();
        let rhs_slots: Vec<u32> = (0..ny).map(|i| lw.lower(&model.derivative(i))).collect();

        // Jacobian: d(rhs_i)/d(y_j) for the states each rhs actually depends on.
        let mut jac_rows = Vec::new();
        let mut jac_cols = Vec::new();
        let mut jac_slots = Vec::new();
        let mut memos: Vec<HashMap<NodeId, NodeId>> = vec![HashMap::new(); ny];
        for (i, &r) in rhs_slots.iter().enumerate() {
            for j in lw.g.state_dependencies(r) {
                let d = lw.g.diff(r, j, &mut memos[j as usize]);
                if lw.g.value(d) == Some(0.0) {
                    continue;
                }
                jac_rows.push(i as u32);
                jac_cols.push(j);
                jac_slots.push(d);
            }
        }

        // Outputs, with residual error when requested.
        let mut output_slots = Vec::with_capacity(no);
        for (i, o) in model.outputs.iter().enumerate() {
            let mut v = lw.lower(&o.expr);
            if let Some(err) = &o.error {
                let eps = lw.g.eps(i);
                let sd = if err.proportional > 0.0 {
                    let p = lw.g.constant(err.proportional);
                    let pf = lw.g.mul(p, v);
                    let pf2 = lw.g.powi(pf, 2);
                    let a2 = lw.g.constant(err.additive * err.additive);
                    let var = lw.g.add(a2, pf2);
                    lw.g.un(Un::Sqrt, var)
                } else {
                    lw.g.constant(err.additive)
                };
                let noise = lw.g.mul(sd, eps);
                v = lw.g.add(v, noise);
                if let Some(lo) = err.lower {
                    let c = lw.g.constant(lo);
                    v = lw.g.bin(Bin::Max, v, c);
                }
                if let Some(hi) = err.upper {
                    let c = lw.g.constant(hi);
                    v = lw.g.bin(Bin::Min, v, c);
                }
            }
            lw.output[i] = Some(v);
            output_slots.push(v);
        }

        let g = lw.g;
        let mut all_roots: Vec<NodeId> = Vec::new();
        for s in [
            &derived_slots,
            &initial_slots,
            &bioav_slots,
            &flux_slots,
            &rhs_slots,
            &jac_slots,
            &output_slots,
        ] {
            all_roots.extend_from_slice(s);
        }
        // Setup: every parameter-only node any tape needs (invariants hoisted out of the RHS).
        let setup = tape_for(&g, &all_roots, Class::Param);
        let rhs = tape_for(&g, &rhs_slots, Class::Dynamic);
        let jac = tape_for(&g, &jac_slots, Class::Dynamic);
        let mut out_roots = output_slots.clone();
        out_roots.extend_from_slice(&flux_slots);
        let out = tape_for(&g, &out_roots, Class::Dynamic);

        let mut template = vec![0.0; g.nodes.len()];
        for (i, slot) in template.iter_mut().enumerate() {
            if let Some(v) = g.value(i as NodeId) {
                *slot = v;
            }
        }
        let max = [&setup, &rhs, &jac, &out]
            .iter()
            .map(|t| t.max_slot() as usize)
            .max()
            .unwrap_or(0);
        assert!(
            g.nodes.is_empty() || max < template.len(),
            "tape slot out of range"
        );

        CompiledModel {
            model,
            template,
            n_params: np,
            n_states: ny,
            time_slot,
            eps_slot0,
            setup,
            rhs,
            jac,
            out,
            derived_slots,
            initial_slots,
            bioav_slots,
            rhs_slots,
            jac_rows,
            jac_cols,
            jac_slots,
            output_slots,
            flux_slots,
        }
    }

    /// The validated model this was compiled from (names, units, descriptions).
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Number of states.
    pub fn n_states(&self) -> usize {
        self.n_states
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.output_slots.len()
    }

    /// Default parameter values, in model order.
    pub fn default_parameters(&self) -> Vec<f64> {
        self.model.parameters.iter().map(|p| p.value).collect()
    }

    /// Sizes of the tapes.
    pub fn stats(&self) -> TapeStats {
        TapeStats {
            slots: self.template.len(),
            setup: self.setup.len(),
            rhs: self.rhs.len(),
            jacobian: self.jac.len(),
            jacobian_nonzeros: self.jac_slots.len(),
            outputs: self.out.len(),
        }
    }

    /// A fresh workspace.
    pub fn workspace(&self) -> Workspace {
        Workspace {
            slots: self.template.clone(),
        }
    }

    /// Loads a parameter set: evaluates every derived quantity, initial value, bioavailability
    /// and invariant sub-expression once, and checks they are usable.
    pub fn setup(&self, ws: &mut Workspace, params: &[f64]) -> Result<(), SetupError> {
        if params.len() != self.n_params {
            return Err(SetupError::WrongLength {
                expected: self.n_params,
                found: params.len(),
            });
        }
        ws.slots[..self.n_params].copy_from_slice(params);
        self.setup.run(&mut ws.slots);
        for (d, &s) in self.model.derived.iter().zip(&self.derived_slots) {
            let v = ws.slots[s as usize];
            if !v.is_finite() {
                return Err(SetupError::NonFinite {
                    what: "derived quantity",
                    name: d.name.clone(),
                    value: v,
                });
            }
        }
        for (st, &s) in self.model.states.iter().zip(&self.initial_slots) {
            let v = ws.slots[s as usize];
            if !v.is_finite() {
                return Err(SetupError::NonFinite {
                    what: "initial value of state",
                    name: st.name.clone(),
                    value: v,
                });
            }
            if v < 0.0 && !st.allow_negative {
                return Err(SetupError::NegativeInitial {
                    name: st.name.clone(),
                    value: v,
                });
            }
        }
        for (r, &s) in self.model.routes.iter().zip(&self.bioav_slots) {
            let v = ws.slots[s as usize];
            if !v.is_finite() {
                return Err(SetupError::NonFinite {
                    what: "bioavailability of route",
                    name: r.name.clone(),
                    value: v,
                });
            }
            if v < 0.0 {
                return Err(SetupError::NegativeBioavailability {
                    name: r.name.clone(),
                    value: v,
                });
            }
        }
        Ok(())
    }

    /// Initial state for the loaded parameter set.
    pub fn initial_state(&self, ws: &Workspace, y0: &mut [f64]) {
        for (y, &s) in y0.iter_mut().zip(&self.initial_slots) {
            *y = ws.slots[s as usize];
        }
    }

    /// Derived quantities for the loaded parameter set.
    pub fn derived_values(&self, ws: &Workspace, out: &mut [f64]) {
        for (o, &s) in out.iter_mut().zip(&self.derived_slots) {
            *o = ws.slots[s as usize];
        }
    }

    /// Bioavailability of route `r` for the loaded parameter set.
    pub fn bioavailability(&self, ws: &Workspace, r: usize) -> f64 {
        ws.slots[self.bioav_slots[r] as usize]
    }

    #[inline]
    fn load(&self, ws: &mut Workspace, t: f64, y: &[f64]) {
        ws.slots[self.n_params..self.n_params + self.n_states].copy_from_slice(y);
        ws.slots[self.time_slot] = t;
    }

    /// dy/dt = f(t, y) for the loaded parameter set (doses excluded: the driver adds infusion
    /// rates).
    #[inline]
    pub fn rhs(&self, ws: &mut Workspace, t: f64, y: &[f64], dy: &mut [f64]) {
        self.load(ws, t, y);
        self.rhs.run(&mut ws.slots);
        for (d, &s) in dy.iter_mut().zip(&self.rhs_slots) {
            *d = ws.slots[s as usize];
        }
    }

    /// The Jacobian's structurally non-zero entries as (row, column) pairs.
    pub fn jacobian_pattern(&self) -> (&[u32], &[u32]) {
        (&self.jac_rows, &self.jac_cols)
    }

    /// Values of the Jacobian entries, in [`jacobian_pattern`](Self::jacobian_pattern) order.
    #[inline]
    pub fn jacobian(&self, ws: &mut Workspace, t: f64, y: &[f64], values: &mut [f64]) {
        self.load(ws, t, y);
        self.jac.run(&mut ws.slots);
        for (v, &s) in values.iter_mut().zip(&self.jac_slots) {
            *v = ws.slots[s as usize];
        }
    }

    /// Outputs at (t, y). `eps` are standard-normal draws, one per output (ignored for outputs
    /// without an error model); `None` gives the noiseless values.
    pub fn outputs(
        &self,
        ws: &mut Workspace,
        t: f64,
        y: &[f64],
        eps: Option<&[f64]>,
        out: &mut [f64],
    ) {
        self.load(ws, t, y);
        let no = self.output_slots.len();
        match eps {
            Some(e) => ws.slots[self.eps_slot0..self.eps_slot0 + no].copy_from_slice(&e[..no]),
            None => ws.slots[self.eps_slot0..self.eps_slot0 + no].fill(0.0),
        }
        self.out.run(&mut ws.slots);
        for (o, &s) in out.iter_mut().zip(&self.output_slots) {
            *o = ws.slots[s as usize];
        }
    }

    /// Flux values at the last [`outputs`](Self::outputs) evaluation.
    pub fn flux_values(&self, ws: &Workspace, out: &mut [f64]) {
        for (o, &s) in out.iter_mut().zip(&self.flux_slots) {
            *o = ws.slots[s as usize];
        }
    }
}
