//! Flat instruction tapes and their interpreter.
//!
//! A tape is a straight-line program over a slot array: one slot per DAG node, inputs
//! (parameters, states, time, residual draws) at fixed slots, constants pre-filled. Evaluating a
//! tape is a single pass over a `Vec<Instr>` with no allocation and no branching except the
//! dispatch on the opcode.

use crate::graph::{eval_bin, eval_un, Bin, Graph, Node, NodeId, Un};

/// One instruction: `slots[d] = op(slots[a], ...)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    /// Unary operation.
    Un(Un, u32, u32),
    /// Binary operation.
    Bin(Bin, u32, u32, u32),
    /// Integer power.
    Powi(u32, u32, i32),
    /// Real power with a constant exponent.
    Powf(u32, u32, f64),
    /// `d = if c != 0 { a } else { b }`.
    Select(u32, u32, u32, u32),
}

impl Instr {
    /// The slot this instruction writes.
    pub fn dest(&self) -> u32 {
        match *self {
            Instr::Un(_, d, _)
            | Instr::Bin(_, d, _, _)
            | Instr::Powi(d, _, _)
            | Instr::Powf(d, _, _)
            | Instr::Select(d, _, _, _) => d,
        }
    }
}

/// A straight-line program.
#[derive(Clone, Debug, Default)]
pub struct Tape {
    pub(crate) instrs: Vec<Instr>,
}

impl Tape {
    /// Builds a tape computing `nodes` (which must be in increasing id order).
    pub(crate) fn from_nodes(g: &Graph, nodes: &[NodeId]) -> Tape {
        let instrs = nodes
            .iter()
            .filter_map(|&id| {
                let d = id;
                Some(match g.nodes[id as usize] {
                    Node::Un(op, a) => Instr::Un(op, d, a),
                    Node::Bin(op, a, b) => Instr::Bin(op, d, a, b),
                    Node::Powi(a, n) => Instr::Powi(d, a, n),
                    Node::Powf(a, x) => Instr::Powf(d, a, f64::from_bits(x)),
                    Node::Select(c, a, b) => Instr::Select(d, c, a, b),
                    Node::Const(_)
                    | Node::Param(_)
                    | Node::State(_)
                    | Node::Time
                    | Node::Eps(_) => return None,
                })
            })
            .collect();
        Tape { instrs }
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    /// True when the tape does nothing.
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// Largest slot index used.
    pub(crate) fn max_slot(&self) -> u32 {
        self.instrs
            .iter()
            .map(|i| match *i {
                Instr::Un(_, d, a) | Instr::Powi(d, a, _) | Instr::Powf(d, a, _) => d.max(a),
                Instr::Bin(_, d, a, b) => d.max(a).max(b),
                Instr::Select(d, c, a, b) => d.max(c).max(a).max(b),
            })
            .max()
            .unwrap_or(0)
    }

    /// Runs the tape over `s`.
    ///
    /// Every slot index was checked against the slot count when the tape was built
    /// ([`crate::CompiledModel`] asserts `max_slot < slots`), so indexing cannot fail.
    #[inline]
    pub fn run(&self, s: &mut [f64]) {
        for ins in &self.instrs {
            match *ins {
                Instr::Bin(op, d, a, b) => {
                    let (x, y) = (s[a as usize], s[b as usize]);
                    s[d as usize] = match op {
                        Bin::Add => x + y,
                        Bin::Sub => x - y,
                        Bin::Mul => x * y,
                        Bin::Div => x / y,
                        _ => eval_bin(op, x, y),
                    };
                }
                Instr::Un(op, d, a) => {
                    let x = s[a as usize];
                    s[d as usize] = match op {
                        Un::Neg => -x,
                        Un::Exp => x.exp(),
                        _ => eval_un(op, x),
                    };
                }
                Instr::Powi(d, a, n) => s[d as usize] = s[a as usize].powi(n),
                Instr::Powf(d, a, x) => s[d as usize] = s[a as usize].powf(x),
                Instr::Select(d, c, a, b) => {
                    s[d as usize] = if s[c as usize] != 0.0 {
                        s[a as usize]
                    } else {
                        s[b as usize]
                    };
                }
            }
        }
    }
}
