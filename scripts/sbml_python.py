"""A small SBML-to-Python translator for the subset Tabula exports, used as the scipy baseline.

It reads an SBML document written by `tabula export sbml` (species and parameters with rate
rules, parameters,
initial assignments, assignment rules, function definitions, events triggered by `time >= t`)
and builds plain Python functions:

* ``model.rhs(t, y)``: d(species)/dt, for ``scipy.integrate.solve_ivp``;
* ``model.observe(t, y, names)``: values of species or assignment-rule parameters;
* ``model.events``: ``[(time, apply(y))]``, where ``apply`` updates the state and the
  event-assigned parameters (infusion inputs) in place.

``simulate_bdf(model, times, rtol, atol)`` then integrates with scipy's BDF between event times,
stopping exactly at each one, as Tabula and libRoadRunner do. Parameter values can be changed
with ``model.set_parameters({...})`` (initial assignments are re-evaluated).
"""

from __future__ import annotations

import math

import libsbml
import numpy as np
from scipy.integrate import solve_ivp


def _pow(a, b):
    try:
        return math.pow(a, b)
    except ValueError:
        return math.inf if a == 0 else math.nan
    except OverflowError:
        return math.inf


PRELUDE = {
    "math": math,
    "_pow": _pow,
    "tabula_min": lambda a, b: a if a <= b else b,
    "tabula_max": lambda a, b: a if a >= b else b,
    "tabula_hill": lambda x, k, n: _pow(x, n) / (_pow(k, n) + _pow(x, n)),
    "inf": math.inf,
    "nan": math.nan,
}


class Translator:
    """Turns libSBML AST nodes into Python expressions; names map through ``names``."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def __call__(self, node) -> str:
        t = node.getType()
        n = node.getNumChildren()
        c = [self(node.getChild(i)) for i in range(n)]
        A = libsbml
        if t in (A.AST_INTEGER,):
            return repr(float(node.getInteger()))
        if t in (A.AST_REAL, A.AST_REAL_E, A.AST_RATIONAL):
            v = node.getReal()
            return "inf" if v == math.inf else "(-inf)" if v == -math.inf else "nan" if v != v else repr(v)
        if t == A.AST_NAME_TIME:
            return "t"
        if t == A.AST_NAME:
            name = node.getName()
            return self.names.get(name, name)
        if t == A.AST_CONSTANT_TRUE:
            return "True"
        if t == A.AST_CONSTANT_FALSE:
            return "False"
        if t == A.AST_PLUS:
            return "(" + " + ".join(c) + ")" if c else "0.0"
        if t == A.AST_MINUS:
            return f"(-{c[0]})" if n == 1 else f"({c[0]} - {c[1]})"
        if t == A.AST_TIMES:
            return "(" + " * ".join(c) + ")" if c else "1.0"
        if t == A.AST_DIVIDE:
            return f"({c[0]} / {c[1]})"
        if t in (A.AST_POWER, A.AST_FUNCTION_POWER):
            return f"_pow({c[0]}, {c[1]})"
        if t == A.AST_FUNCTION_EXP:
            return f"math.exp({c[0]})"
        if t == A.AST_FUNCTION_LN:
            return f"math.log({c[0]})"
        if t == A.AST_FUNCTION_LOG:
            return f"math.log10({c[-1]})" if n == 1 else f"(math.log({c[1]}) / math.log({c[0]}))"
        if t == A.AST_FUNCTION_ROOT:
            return f"math.sqrt({c[-1]})" if n == 1 or c[0] == "2.0" else f"_pow({c[1]}, 1.0 / {c[0]})"
        if t == A.AST_FUNCTION_ABS:
            return f"abs({c[0]})"
        if t == A.AST_FUNCTION:
            return f"{node.getName()}({', '.join(c)})"
        if t == A.AST_FUNCTION_PIECEWISE:
            # value1, cond1, value2, cond2, ..., [otherwise]
            expr = c[-1] if n % 2 == 1 else "nan"
            pairs = [(c[i], c[i + 1]) for i in range(0, n - n % 2, 2)]
            for value, cond in reversed(pairs):
                expr = f"({value} if {cond} else {expr})"
            return expr
        rel = {
            A.AST_RELATIONAL_EQ: "==",
            A.AST_RELATIONAL_NEQ: "!=",
            A.AST_RELATIONAL_LT: "<",
            A.AST_RELATIONAL_LEQ: "<=",
            A.AST_RELATIONAL_GT: ">",
            A.AST_RELATIONAL_GEQ: ">=",
        }
        if t in rel:
            return f"({c[0]} {rel[t]} {c[1]})"
        if t == A.AST_LOGICAL_AND:
            return "(" + " and ".join(c) + ")"
        if t == A.AST_LOGICAL_OR:
            return "(" + " or ".join(c) + ")"
        if t == A.AST_LOGICAL_NOT:
            return f"(not {c[0]})"
        raise ValueError(f"unsupported MathML node {libsbml.formulaToL3String(node)}")


class PythonModel:
    """An exported Tabula document as Python functions (see the module documentation)."""

    def __init__(self, xml: str):
        doc = libsbml.readSBMLFromString(xml)
        m = doc.getModel()
        if m is None:
            raise ValueError("not an SBML document")
        # The state: every variable with a rate rule (species, and parameters for states in
        # concentration units).
        self.species = [r.getVariable() for r in m.getListOfRules() if r.isRate()]
        self.index = {s: i for i, s in enumerate(self.species)}
        self.values = {
            p.getId(): p.getValue() for p in m.getListOfParameters() if p.getId() not in self.index
        }
        self.defaults = dict(self.values)
        self.initial = {s.getId(): s.getInitialAmount() for s in m.getListOfSpecies()}
        self.initial.update(
            {p.getId(): p.getValue() for p in m.getListOfParameters() if p.getId() in self.index}
        )
        self.rule_vars = [r.getVariable() for r in m.getListOfRules() if r.isAssignment()]
        self.event_vars = sorted(
            {a.getVariable() for e in m.getListOfEvents() for a in e.getListOfEventAssignments()}
            - set(self.species)
        )
        self.inputs = [0.0] * len(self.event_vars)
        constants = [
            p for p in self.values if p not in self.rule_vars and p not in self.event_vars
        ]
        self.constants = constants
        names = {s: f"y[{i}]" for i, s in enumerate(self.species)}
        names.update({v: f"U[{j}]" for j, v in enumerate(self.event_vars)})
        tr = Translator(names)
        plain = Translator({})

        # Initial assignments, in document order (Tabula writes them in evaluation order).
        self._init = [(ia.getSymbol(), plain(ia.getMath())) for ia in m.getListOfInitialAssignments()]
        rules = [(r.getVariable(), tr(r.getMath())) for r in m.getListOfRules() if r.isAssignment()]
        rates = {r.getVariable(): tr(r.getMath()) for r in m.getListOfRules() if r.isRate()}
        # The right-hand side needs only the rules the rates use, directly or through other rules.
        uses = {r.getVariable(): _names(r.getMath()) for r in m.getListOfRules()}
        needed: set[str] = set()
        todo = [n for r in m.getListOfRules() if r.isRate() for n in uses[r.getVariable()]]
        while todo:
            n = todo.pop()
            if n in uses and n not in needed and n not in rates:
                needed.add(n)
                todo.extend(uses[n])
        lines = ["def make(P, U):"]
        lines += [f"    {p} = P[{p!r}]" for p in constants]
        lines.append("    def rhs(t, y):")
        lines += [f"        {v} = {e}" for v, e in rules if v in needed]
        lines.append("        return [" + ", ".join(rates.get(s, "0.0") for s in self.species) + "]")
        lines.append("    def observe(t, y):")
        lines += [f"        {v} = {e}" for v, e in rules]
        lines.append("        return {" + ", ".join(f"{v!r}: {v}" for v, _ in rules) + "}")
        lines.append("    return rhs, observe")
        self._source = "\n".join(lines)
        self._make = _compile(self._source, "make")

        # Events: trigger `time >= t`; assignments evaluated with pre-event values.
        self._events = []
        for e in m.getListOfEvents():
            trig = e.getTrigger().getMath()
            if trig.getType() != libsbml.AST_RELATIONAL_GEQ or trig.getChild(0).getType() != libsbml.AST_NAME_TIME:
                raise ValueError(f"event {e.getId()}: only `time >= t` triggers are supported")
            at = float(eval(plain(trig.getChild(1)), dict(PRELUDE)))
            assigns = []
            for a in e.getListOfEventAssignments():
                var = a.getVariable()
                target = ("y", self.index[var]) if var in self.index else ("U", self.event_vars.index(var))
                assigns.append((target, tr(a.getMath())))
            code = ["def make(P, U):"]
            code += [f"    {p} = P[{p!r}]" for p in constants]
            code.append("    def apply(t, y):")
            code.append("        new = [" + ", ".join(expr for _, expr in assigns) + "]")
            for k, ((kind, i), _) in enumerate(assigns):
                code.append(f"        {kind}[{i}] = new[{k}]")
            code.append("    return apply")
            self._events.append((at, "\n".join(code)))
        self._event_makers = [(at, _compile(src, "make")) for at, src in self._events]
        self.set_parameters({})

    def set_parameters(self, values: dict[str, float]):
        """Sets parameters (by SBML id) and re-evaluates the initial assignments."""
        P = dict(self.defaults)
        P.update(values)
        y0 = dict(self.initial)
        env = dict(PRELUDE)
        env.update(P)
        env.update(y0)
        for sym, expr in self._init:
            v = eval(expr, env)
            env[sym] = v
            if sym in self.index:
                y0[sym] = v
            else:
                P[sym] = v
        self.P = P
        self.y0 = np.array([y0[s] for s in self.species], dtype=float)
        self.inputs = [0.0] * len(self.event_vars)
        self.rhs, self._observe = self._make(P, self.inputs)
        self.events = sorted(
            ((at, mk(P, self.inputs)) for at, mk in self._event_makers), key=lambda e: e[0]
        )

    def observe(self, t: float, y, names: list[str]) -> list[float]:
        vals = self._observe(t, y)
        return [y[self.index[n]] if n in self.index else vals[n] for n in names]


def _names(node) -> set[str]:
    """Every name an AST refers to."""
    out = set()
    stack = [node]
    while stack:
        x = stack.pop()
        if x.getType() == libsbml.AST_NAME:
            out.add(x.getName())
        stack.extend(x.getChild(i) for i in range(x.getNumChildren()))
    return out


def _compile(source: str, name: str):
    env = dict(PRELUDE)
    exec(compile(source, "<sbml>", "exec"), env)
    return env[name]


def simulate_bdf(model: PythonModel, times, names, rtol=1e-6, atol=1e-9, end=None):
    """Integrates with scipy's BDF, stopping at every event time; returns ``len(times) x
    len(names)`` values (a value at an event time is the one just after the event)."""
    times = np.asarray(times, dtype=float)
    end = float(times[-1]) if end is None else end
    y = model.y0.copy()
    for j in range(len(model.inputs)):
        model.inputs[j] = 0.0
    events = model.events
    stops = sorted({at for at, _ in events if 0 < at < end} | {end})
    out = np.full((len(times), len(names)), np.nan)
    k = 0
    t = 0.0
    for at, apply in events:
        if at <= 0:
            apply(0.0, y)
    ei = 0
    while ei < len(events) and events[ei][0] <= 0:
        ei += 1
    for stop in stops:
        while k < len(times) and times[k] <= t:
            out[k] = model.observe(times[k], y, names)
            k += 1
        inside = times[(times > t) & (times < stop)]
        # The segment's end is evaluated too: it is the state the next segment starts from.
        sol = solve_ivp(model.rhs, (t, stop), y, method="BDF", rtol=rtol, atol=atol,
                        t_eval=np.append(inside, stop))
        if not sol.success:
            raise RuntimeError(f"scipy BDF failed at t = {sol.t[-1]}: {sol.message}")
        for j, tj in enumerate(inside):
            out[k] = model.observe(tj, sol.y[:, j], names)
            k += 1
        y = sol.y[:, -1].copy()
        t = stop
        while ei < len(events) and events[ei][0] <= t:
            events[ei][1](t, y)
            ei += 1
    while k < len(times):
        out[k] = model.observe(times[k], y, names)
        k += 1
    return out
