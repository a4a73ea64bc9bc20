//! Native code for the tapes, generated with Cranelift.
//!
//! Each tape becomes one function `fn(slots: *mut f64)`: operands are loaded from the slot array
//! once, kept in registers (Cranelift allocates them), and only the values other code reads are
//! stored back. Arithmetic, `sqrt`, `abs`, comparisons and selects are native instructions;
//! `exp`, `ln`, `log10` and the powers call the same Rust functions the interpreter uses, so the
//! two backends give bit-identical results (Cranelift never fuses multiply-adds).

use std::collections::{HashMap, HashSet};

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, FuncRef, InstBuilder, MemFlagsData, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

use crate::graph::{Bin, Un};
use crate::tape::{Instr, Tape};

/// A compiled tape: `f(slots)`.
pub(crate) type TapeFn = unsafe extern "C" fn(*mut f64);

extern "C" fn rt_exp(x: f64) -> f64 {
    x.exp()
}
extern "C" fn rt_ln(x: f64) -> f64 {
    x.ln()
}
extern "C" fn rt_log10(x: f64) -> f64 {
    x.log10()
}
extern "C" fn rt_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}
extern "C" fn rt_powi(x: f64, n: i32) -> f64 {
    x.powi(n)
}

/// The JIT module (owning the executable memory) and the compiled tapes.
pub(crate) struct JitCode {
    // Never used after construction, but it owns the code the function pointers point into and
    // must live as long as they do.
    _module: JITModule,
    pub(crate) fns: Vec<TapeFn>,
}

// SAFETY: the module is finalized before any function pointer is handed out and is never
// mutated afterwards; the generated functions only read and write the slot array passed to
// them, so calling them from several threads at once (each with its own slots) is safe.
unsafe impl Send for JitCode {}
unsafe impl Sync for JitCode {}

impl std::fmt::Debug for JitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JitCode({} functions)", self.fns.len())
    }
}

struct Runtime {
    exp: FuncRef,
    ln: FuncRef,
    log10: FuncRef,
    pow: FuncRef,
    powi: FuncRef,
}

/// Compiles each tape; `keep[i]` lists the slots tape `i` must write back to memory.
pub(crate) fn compile(tapes: &[&Tape], keep: &[HashSet<u32>]) -> Result<JitCode, String> {
    let mut flags = settings::builder();
    flags
        .set("use_colocated_libcalls", "false")
        .map_err(|e| e.to_string())?;
    flags.set("is_pic", "false").map_err(|e| e.to_string())?;
    flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
    let isa = cranelift_native::builder()
        .map_err(|e| format!("host machine not supported by the JIT: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    jb.symbol("tabula_rt_exp", rt_exp as *const u8);
    jb.symbol("tabula_rt_ln", rt_ln as *const u8);
    jb.symbol("tabula_rt_log10", rt_log10 as *const u8);
    jb.symbol("tabula_rt_pow", rt_pow as *const u8);
    jb.symbol("tabula_rt_powi", rt_powi as *const u8);
    let mut module = JITModule::new(jb);
    let ptr = module.target_config().pointer_type();

    let mut unary = module.make_signature();
    unary.params.push(AbiParam::new(types::F64));
    unary.returns.push(AbiParam::new(types::F64));
    let mut binary = unary.clone();
    binary.params.push(AbiParam::new(types::F64));
    let mut powi_sig = unary.clone();
    powi_sig.params.push(AbiParam::new(types::I32));
    let err = |e: cranelift_module::ModuleError| e.to_string();
    let f_exp = module
        .declare_function("tabula_rt_exp", Linkage::Import, &unary)
        .map_err(err)?;
    let f_ln = module
        .declare_function("tabula_rt_ln", Linkage::Import, &unary)
        .map_err(err)?;
    let f_log10 = module
        .declare_function("tabula_rt_log10", Linkage::Import, &unary)
        .map_err(err)?;
    let f_pow = module
        .declare_function("tabula_rt_pow", Linkage::Import, &binary)
        .map_err(err)?;
    let f_powi = module
        .declare_function("tabula_rt_powi", Linkage::Import, &powi_sig)
        .map_err(err)?;

    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    let mut ids = Vec::with_capacity(tapes.len());
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    for (k, tape) in tapes.iter().enumerate() {
        let id = module
            .declare_function(&format!("tape{k}"), Linkage::Local, &sig)
            .map_err(err)?;
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let rt = Runtime {
                exp: module.declare_func_in_func(f_exp, b.func),
                ln: module.declare_func_in_func(f_ln, b.func),
                log10: module.declare_func_in_func(f_log10, b.func),
                pow: module.declare_func_in_func(f_pow, b.func),
                powi: module.declare_func_in_func(f_powi, b.func),
            };
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            let base = b.block_params(block)[0];
            emit(&mut b, base, tape, &keep[k], &rt);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        module.define_function(id, &mut ctx).map_err(err)?;
        module.clear_context(&mut ctx);
        ids.push(id);
    }
    module.finalize_definitions().map_err(err)?;
    let fns = ids
        .into_iter()
        .map(|id| {
            let code = module.get_finalized_function(id);
            // SAFETY: the function was declared with signature `fn(*mut f64)` (pointer-sized
            // parameter, no return value) using the platform's default calling convention,
            // which is what `extern "C"` means on the host.
            unsafe { std::mem::transmute::<*const u8, TapeFn>(code) }
        })
        .collect();
    Ok(JitCode {
        _module: module,
        fns,
    })
}

fn emit(b: &mut FunctionBuilder<'_>, base: Value, tape: &Tape, keep: &HashSet<u32>, rt: &Runtime) {
    let flags = MemFlagsData::trusted();
    let mut vals: HashMap<u32, Value> = HashMap::new();
    let get = |b: &mut FunctionBuilder<'_>, vals: &mut HashMap<u32, Value>, slot: u32| -> Value {
        *vals
            .entry(slot)
            .or_insert_with(|| b.ins().load(types::F64, flags, base, (slot as i32) * 8))
    };
    let call1 = |b: &mut FunctionBuilder<'_>, f: FuncRef, x: Value| -> Value {
        let inst = b.ins().call(f, &[x]);
        b.inst_results(inst)[0]
    };
    for ins in &tape.instrs {
        let (d, v) = match *ins {
            Instr::Bin(op, d, a, c) => {
                let x = get(b, &mut vals, a);
                let y = get(b, &mut vals, c);
                let v = match op {
                    Bin::Add => b.ins().fadd(x, y),
                    Bin::Sub => b.ins().fsub(x, y),
                    Bin::Mul => b.ins().fmul(x, y),
                    Bin::Div => b.ins().fdiv(x, y),
                    Bin::Pow => {
                        let inst = b.ins().call(rt.pow, &[x, y]);
                        b.inst_results(inst)[0]
                    }
                    // min/max as selects, exactly like the interpreter (see graph::eval_bin).
                    Bin::Min => {
                        let c = b.ins().fcmp(FloatCC::LessThanOrEqual, x, y);
                        b.ins().select(c, x, y)
                    }
                    Bin::Max => {
                        let c = b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, y);
                        b.ins().select(c, x, y)
                    }
                    Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge | Bin::Eq | Bin::Ne => {
                        let cc = match op {
                            Bin::Lt => FloatCC::LessThan,
                            Bin::Le => FloatCC::LessThanOrEqual,
                            Bin::Gt => FloatCC::GreaterThan,
                            Bin::Ge => FloatCC::GreaterThanOrEqual,
                            Bin::Eq => FloatCC::Equal,
                            _ => FloatCC::NotEqual,
                        };
                        let c = b.ins().fcmp(cc, x, y);
                        let one = b.ins().f64const(1.0);
                        let zero = b.ins().f64const(0.0);
                        b.ins().select(c, one, zero)
                    }
                    Bin::And | Bin::Or => {
                        let zero = b.ins().f64const(0.0);
                        let cx = b.ins().fcmp(FloatCC::NotEqual, x, zero);
                        let cy = b.ins().fcmp(FloatCC::NotEqual, y, zero);
                        let c = if op == Bin::And {
                            b.ins().band(cx, cy)
                        } else {
                            b.ins().bor(cx, cy)
                        };
                        let one = b.ins().f64const(1.0);
                        b.ins().select(c, one, zero)
                    }
                };
                (d, v)
            }
            Instr::Un(op, d, a) => {
                let x = get(b, &mut vals, a);
                let v = match op {
                    Un::Neg => b.ins().fneg(x),
                    Un::Abs => b.ins().fabs(x),
                    Un::Sqrt => b.ins().sqrt(x),
                    Un::Exp => call1(b, rt.exp, x),
                    Un::Ln => call1(b, rt.ln, x),
                    Un::Log10 => call1(b, rt.log10, x),
                    Un::Sign => {
                        let zero = b.ins().f64const(0.0);
                        let one = b.ins().f64const(1.0);
                        let minus = b.ins().f64const(-1.0);
                        let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                        let neg = b.ins().fcmp(FloatCC::LessThan, x, zero);
                        let r = b.ins().select(neg, minus, zero);
                        b.ins().select(pos, one, r)
                    }
                    Un::Not => {
                        let zero = b.ins().f64const(0.0);
                        let one = b.ins().f64const(1.0);
                        let c = b.ins().fcmp(FloatCC::Equal, x, zero);
                        b.ins().select(c, one, zero)
                    }
                };
                (d, v)
            }
            Instr::Powi(d, a, n) => {
                let x = get(b, &mut vals, a);
                let v = match n {
                    2 => b.ins().fmul(x, x),
                    _ => {
                        let nn = b.ins().iconst(types::I32, i64::from(n));
                        let inst = b.ins().call(rt.powi, &[x, nn]);
                        b.inst_results(inst)[0]
                    }
                };
                (d, v)
            }
            Instr::Powf(d, a, e) => {
                let x = get(b, &mut vals, a);
                let y = b.ins().f64const(e);
                let inst = b.ins().call(rt.pow, &[x, y]);
                (d, b.inst_results(inst)[0])
            }
            Instr::Select(d, c, a, e) => {
                let cv = get(b, &mut vals, c);
                let x = get(b, &mut vals, a);
                let y = get(b, &mut vals, e);
                let zero = b.ins().f64const(0.0);
                let cond = b.ins().fcmp(FloatCC::NotEqual, cv, zero);
                (d, b.ins().select(cond, x, y))
            }
        };
        vals.insert(d, v);
        if keep.contains(&d) {
            b.ins().store(flags, v, base, (d as i32) * 8);
        }
    }
}
