//! The simulator's views: the terminal sections of `priorityguard simulate` and the `--chart`
//! SVG, which the HTML page embeds too.

pub mod chart;
pub mod table;
