//! Renders one realistic report in every format and checks the output: snapshots for people to
//! review, plus structural checks (the SARIF schema, well-formed XML, JSON and YAML agreeing).

mod color;
mod fixture;
mod formats;
mod junit;
mod sarif;
mod snapshots;
