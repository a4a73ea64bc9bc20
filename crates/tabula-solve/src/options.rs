//! Integration methods and tolerances.

use std::fmt;
use std::str::FromStr;

/// An integration method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// Variable-order BDF (stiff; the default).
    #[default]
    Bdf,
    /// ESDIRK3(4) singly diagonally implicit Runge–Kutta (stiff; restarts cheaply after doses).
    Esdirk34,
    /// TR-BDF2 (stiff, second order).
    TrBdf2,
    /// Tsitouras 5(4) explicit Runge–Kutta (non-stiff).
    Tsit45,
}

impl Method {
    /// Every method, for help texts.
    pub const ALL: [Method; 4] = [
        Method::Bdf,
        Method::Esdirk34,
        Method::TrBdf2,
        Method::Tsit45,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Bdf => "bdf",
            Method::Esdirk34 => "esdirk34",
            Method::TrBdf2 => "tr_bdf2",
            Method::Tsit45 => "tsit45",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown method \"{s}\"; expected one of bdf, esdirk34, tr_bdf2, tsit45")
            })
    }
}

/// Solver settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SolverOptions {
    /// Integration method.
    pub method: Method,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance relative to each state's typical magnitude: state `i` is controlled to
    /// `atol * scale_i` in its own unit (see [`state_scales`](crate::state_scales)).
    pub atol: f64,
    /// Step budget for a whole simulation.
    pub max_steps: usize,
    /// Initial step size (time unit).
    pub h0: f64,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            method: Method::Bdf,
            rtol: 1e-6,
            atol: 1e-8,
            max_steps: 200_000,
            h0: 1e-4,
        }
    }
}

impl SolverOptions {
    /// Checks the settings are usable.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rtol.is_finite() && self.rtol > 0.0 && self.rtol < 1.0) {
            return Err(format!("rtol must be in (0, 1), found {}", self.rtol));
        }
        if !(self.atol.is_finite() && self.atol > 0.0) {
            return Err(format!("atol must be > 0, found {}", self.atol));
        }
        if !(self.h0.is_finite() && self.h0 > 0.0) {
            return Err(format!("h0 must be > 0, found {}", self.h0));
        }
        if self.max_steps == 0 {
            return Err("max_steps must be > 0".into());
        }
        Ok(())
    }
}
