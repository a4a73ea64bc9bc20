//! A hash-consed expression DAG with algebraic simplification and symbolic differentiation.
//!
//! Every node is created through a smart constructor that folds constants, applies identities
//! (`x + 0`, `x * 1`, `x * 0`, `--x`) and puts commutative operands in a canonical order, then
//! looks the node up in a table so that each distinct sub-expression exists once (common
//! sub-expression elimination for free). Children always have smaller ids than their parents,
//! so node-id order is a topological order.

use std::collections::HashMap;

/// Index of a node.
pub type NodeId = u32;

/// Unary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Un {
    Neg,
    Exp,
    Ln,
    Log10,
    Sqrt,
    Abs,
    Sign,
    Not,
}

/// Binary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

/// A node of the DAG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A constant (stored as bits so nodes can be hashed).
    Const(u64),
    /// Parameter `i`.
    Param(u32),
    /// State `i`.
    State(u32),
    /// Time.
    Time,
    /// Standard-normal residual draw for output `i`.
    Eps(u32),
    /// Unary operation.
    Un(Un, NodeId),
    /// Binary operation.
    Bin(Bin, NodeId, NodeId),
    /// Integer power.
    Powi(NodeId, i32),
    /// Constant real power (bits of the exponent).
    Powf(NodeId, u64),
    /// `if c != 0 then a else b`.
    Select(NodeId, NodeId, NodeId),
}

/// How a node's value varies: constant, once per parameter set, or at every evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Const,
    Param,
    Dynamic,
}

/// The DAG.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub class: Vec<Class>,
    index: HashMap<Node, NodeId>,
}

impl Graph {
    fn intern(&mut self, n: Node) -> NodeId {
        if let Some(&id) = self.index.get(&n) {
            return id;
        }
        let class = match n {
            Node::Const(_) => Class::Const,
            Node::Param(_) => Class::Param,
            Node::State(_) | Node::Time | Node::Eps(_) => Class::Dynamic,
            Node::Un(_, a) | Node::Powi(a, _) | Node::Powf(a, _) => self.class[a as usize],
            Node::Bin(_, a, b) => self.class[a as usize].max(self.class[b as usize]),
            Node::Select(c, a, b) => self.class[c as usize]
                .max(self.class[a as usize])
                .max(self.class[b as usize]),
        };
        let id = self.nodes.len() as NodeId;
        self.nodes.push(n);
        self.class.push(class);
        self.index.insert(n, id);
        id
    }

    /// The constant value of a node, if it is a constant.
    pub fn value(&self, id: NodeId) -> Option<f64> {
        match self.nodes[id as usize] {
            Node::Const(b) => Some(f64::from_bits(b)),
            _ => None,
        }
    }

    fn is(&self, id: NodeId, v: f64) -> bool {
        self.value(id) == Some(v)
    }

    pub fn constant(&mut self, v: f64) -> NodeId {
        // One representation of zero.
        let v = if v == 0.0 { 0.0 } else { v };
        self.intern(Node::Const(v.to_bits()))
    }

    pub fn param(&mut self, i: usize) -> NodeId {
        self.intern(Node::Param(i as u32))
    }

    pub fn state(&mut self, i: usize) -> NodeId {
        self.intern(Node::State(i as u32))
    }

    pub fn time(&mut self) -> NodeId {
        self.intern(Node::Time)
    }

    pub fn eps(&mut self, i: usize) -> NodeId {
        self.intern(Node::Eps(i as u32))
    }

    pub fn un(&mut self, op: Un, a: NodeId) -> NodeId {
        if let Some(x) = self.value(a) {
            return self.constant(eval_un(op, x));
        }
        if op == Un::Neg {
            if let Node::Un(Un::Neg, inner) = self.nodes[a as usize] {
                return inner;
            }
        }
        self.intern(Node::Un(op, a))
    }

    pub fn neg(&mut self, a: NodeId) -> NodeId {
        self.un(Un::Neg, a)
    }

    pub fn bin(&mut self, op: Bin, a: NodeId, b: NodeId) -> NodeId {
        if let (Some(x), Some(y)) = (self.value(a), self.value(b)) {
            return self.constant(eval_bin(op, x, y));
        }
        match op {
            Bin::Add => {
                if self.is(a, 0.0) {
                    return b;
                }
                if self.is(b, 0.0) {
                    return a;
                }
                if let Node::Un(Un::Neg, nb) = self.nodes[b as usize] {
                    return self.bin(Bin::Sub, a, nb);
                }
            }
            Bin::Sub => {
                if self.is(b, 0.0) {
                    return a;
                }
                if self.is(a, 0.0) {
                    return self.neg(b);
                }
                if a == b {
                    return self.constant(0.0);
                }
                if let Node::Un(Un::Neg, nb) = self.nodes[b as usize] {
                    return self.bin(Bin::Add, a, nb);
                }
            }
            Bin::Mul => {
                if self.is(a, 0.0) || self.is(b, 0.0) {
                    return self.constant(0.0);
                }
                if self.is(a, 1.0) {
                    return b;
                }
                if self.is(b, 1.0) {
                    return a;
                }
                if self.is(a, -1.0) {
                    return self.neg(b);
                }
                if self.is(b, -1.0) {
                    return self.neg(a);
                }
            }
            Bin::Div => {
                if self.is(a, 0.0) {
                    return self.constant(0.0);
                }
                if self.is(b, 1.0) {
                    return a;
                }
                if let Some(y) = self.value(b) {
                    if y != 0.0 && (1.0 / y).is_finite() && (y.abs().log2().fract() == 0.0) {
                        // Division by a power of two is exact as a multiplication.
                        let inv = self.constant(1.0 / y);
                        return self.bin(Bin::Mul, a, inv);
                    }
                }
            }
            _ => {}
        }
        let (a, b) = match op {
            Bin::Add | Bin::Mul | Bin::Min | Bin::Max | Bin::Eq | Bin::Ne | Bin::And | Bin::Or
                if a > b =>
            {
                (b, a)
            }
            _ => (a, b),
        };
        self.intern(Node::Bin(op, a, b))
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.bin(Bin::Add, a, b)
    }
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.bin(Bin::Sub, a, b)
    }
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.bin(Bin::Mul, a, b)
    }
    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.bin(Bin::Div, a, b)
    }

    pub fn powi(&mut self, a: NodeId, n: i32) -> NodeId {
        match n {
            0 => self.constant(1.0),
            1 => a,
            _ => {
                if let Some(x) = self.value(a) {
                    return self.constant(x.powi(n));
                }
                self.intern(Node::Powi(a, n))
            }
        }
    }

    /// `a ^ b`, choosing integer, constant-real or general power.
    pub fn pow(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if let Some(x) = self.value(b) {
            if x.fract() == 0.0 && x.abs() <= 64.0 {
                return self.powi(a, x as i32);
            }
            if x == 0.5 {
                return self.un(Un::Sqrt, a);
            }
            if let Some(y) = self.value(a) {
                return self.constant(y.powf(x));
            }
            return self.intern(Node::Powf(a, x.to_bits()));
        }
        self.bin(Bin::Pow, a, b)
    }

    pub fn select(&mut self, c: NodeId, a: NodeId, b: NodeId) -> NodeId {
        if let Some(x) = self.value(c) {
            return if x != 0.0 { a } else { b };
        }
        if a == b {
            return a;
        }
        self.intern(Node::Select(c, a, b))
    }

    /// d(node)/d(state j), memoised in `memo` (which must be specific to `j`).
    pub fn diff(&mut self, id: NodeId, j: u32, memo: &mut HashMap<NodeId, NodeId>) -> NodeId {
        if self.class[id as usize] != Class::Dynamic {
            return self.constant(0.0);
        }
        if let Some(&d) = memo.get(&id) {
            return d;
        }
        let d = match self.nodes[id as usize] {
            Node::Const(_) | Node::Param(_) | Node::Time | Node::Eps(_) => self.constant(0.0),
            Node::State(k) => self.constant(if k == j { 1.0 } else { 0.0 }),
            Node::Un(op, a) => {
                let da = self.diff(a, j, memo);
                if self.is(da, 0.0) {
                    da
                } else {
                    match op {
                        Un::Neg => self.neg(da),
                        Un::Exp => self.mul(id, da),
                        Un::Ln => self.div(da, a),
                        Un::Log10 => {
                            let ln10 = self.constant(std::f64::consts::LN_10);
                            let den = self.mul(a, ln10);
                            self.div(da, den)
                        }
                        Un::Sqrt => {
                            let two = self.constant(2.0);
                            let den = self.mul(two, id);
                            self.div(da, den)
                        }
                        Un::Abs => {
                            let s = self.un(Un::Sign, a);
                            self.mul(s, da)
                        }
                        Un::Sign | Un::Not => self.constant(0.0),
                    }
                }
            }
            Node::Powi(a, n) => {
                let da = self.diff(a, j, memo);
                if self.is(da, 0.0) {
                    da
                } else {
                    let nn = self.constant(n as f64);
                    let p = self.powi(a, n - 1);
                    let t = self.mul(nn, p);
                    self.mul(t, da)
                }
            }
            Node::Powf(a, xb) => {
                let da = self.diff(a, j, memo);
                if self.is(da, 0.0) {
                    da
                } else {
                    let x = f64::from_bits(xb);
                    let xn = self.constant(x);
                    let xm1 = self.constant(x - 1.0);
                    let p = self.pow(a, xm1);
                    let t = self.mul(xn, p);
                    self.mul(t, da)
                }
            }
            Node::Select(c, a, b) => {
                let da = self.diff(a, j, memo);
                let db = self.diff(b, j, memo);
                self.select(c, da, db)
            }
            Node::Bin(op, a, b) => {
                let da = self.diff(a, j, memo);
                let db = self.diff(b, j, memo);
                match op {
                    Bin::Add => self.add(da, db),
                    Bin::Sub => self.sub(da, db),
                    Bin::Mul => {
                        let l = self.mul(da, b);
                        let r = self.mul(a, db);
                        self.add(l, r)
                    }
                    Bin::Div => {
                        // (da - (a/b) db) / b
                        let q = self.mul(id, db);
                        let num = self.sub(da, q);
                        self.div(num, b)
                    }
                    Bin::Pow => {
                        if self.is(db, 0.0) {
                            // b * a^(b-1) * da
                            let one = self.constant(1.0);
                            let bm1 = self.sub(b, one);
                            let p = self.bin(Bin::Pow, a, bm1);
                            let t = self.mul(b, p);
                            self.mul(t, da)
                        } else {
                            // a^b * (db ln a + b da / a)
                            let ln = self.un(Un::Ln, a);
                            let t1 = self.mul(db, ln);
                            let q = self.div(da, a);
                            let t2 = self.mul(b, q);
                            let s = self.add(t1, t2);
                            self.mul(id, s)
                        }
                    }
                    Bin::Min => {
                        let c = self.bin(Bin::Le, a, b);
                        self.select(c, da, db)
                    }
                    Bin::Max => {
                        let c = self.bin(Bin::Ge, a, b);
                        self.select(c, da, db)
                    }
                    Bin::Lt
                    | Bin::Le
                    | Bin::Gt
                    | Bin::Ge
                    | Bin::Eq
                    | Bin::Ne
                    | Bin::And
                    | Bin::Or => self.constant(0.0),
                }
            }
        };
        memo.insert(id, d);
        d
    }

    /// The states a node depends on (sorted, without duplicates).
    pub fn state_dependencies(&self, root: NodeId) -> Vec<u32> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![root];
        let mut out = Vec::new();
        while let Some(id) = stack.pop() {
            if seen[id as usize] || self.class[id as usize] != Class::Dynamic {
                continue;
            }
            seen[id as usize] = true;
            match self.nodes[id as usize] {
                Node::State(k) => out.push(k),
                Node::Un(_, a) | Node::Powi(a, _) | Node::Powf(a, _) => stack.push(a),
                Node::Bin(_, a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Node::Select(c, a, b) => {
                    stack.push(c);
                    stack.push(a);
                    stack.push(b);
                }
                Node::Const(_) | Node::Param(_) | Node::Time | Node::Eps(_) => {}
            }
        }
        out.sort_unstable();
        out
    }

    /// Children of a node.
    pub fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> {
        let (a, b, c) = match self.nodes[id as usize] {
            Node::Un(_, a) | Node::Powi(a, _) | Node::Powf(a, _) => (Some(a), None, None),
            Node::Bin(_, a, b) => (Some(a), Some(b), None),
            Node::Select(c, a, b) => (Some(c), Some(a), Some(b)),
            _ => (None, None, None),
        };
        a.into_iter().chain(b).chain(c)
    }
}

/// Evaluates a unary operation (shared by constant folding and the interpreter).
#[inline(always)]
pub fn eval_un(op: Un, x: f64) -> f64 {
    match op {
        Un::Neg => -x,
        Un::Exp => x.exp(),
        Un::Ln => x.ln(),
        Un::Log10 => x.log10(),
        Un::Sqrt => x.sqrt(),
        Un::Abs => x.abs(),
        Un::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        Un::Not => f64::from(u8::from(x == 0.0)),
    }
}

/// Evaluates a binary operation (shared by constant folding and the interpreter).
#[inline(always)]
pub fn eval_bin(op: Bin, x: f64, y: f64) -> f64 {
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::Mul => x * y,
        Bin::Div => x / y,
        Bin::Pow => x.powf(y),
        // As selects (not f64::min/max) so every backend and the derivative agree exactly.
        Bin::Min => {
            if x <= y {
                x
            } else {
                y
            }
        }
        Bin::Max => {
            if x >= y {
                x
            } else {
                y
            }
        }
        Bin::Lt => b(x < y),
        Bin::Le => b(x <= y),
        Bin::Gt => b(x > y),
        Bin::Ge => b(x >= y),
        Bin::Eq => b(x == y),
        Bin::Ne => b(x != y),
        Bin::And => b(x != 0.0 && y != 0.0),
        Bin::Or => b(x != 0.0 || y != 0.0),
    }
}
