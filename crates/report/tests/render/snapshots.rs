//! Every format, on the full fixture and on a clean report. Review changes by reading the
//! `.snap` files: they are the documentation of what users see.

use crate::fixture::{clean_report, fleet_report, options, render_to_string, report};
use pg_report::Format;

#[test]
fn every_format() {
    let report = report();
    for format in Format::ALL {
        let output = render_to_string(format, &report, &options(false));
        insta::assert_snapshot!(format.as_str(), output);
    }
}

#[test]
fn every_format_on_a_clean_report() {
    let report = clean_report();
    for format in Format::ALL {
        let output = render_to_string(format, &report, &options(false));
        insta::assert_snapshot!(format!("clean_{format}"), output);
    }
}

/// Several clusters: every format names each finding's cluster and summarises each cluster,
/// the one that could not be read included.
#[test]
fn every_format_on_a_fleet() {
    let report = fleet_report();
    for format in Format::ALL {
        let output = render_to_string(format, &report, &options(false));
        for context in ["prod", "staging"] {
            assert!(output.contains(context), "{format} names {context}");
        }
        assert!(output.contains("edge"), "{format} names the failed cluster");
        insta::assert_snapshot!(format!("fleet_{format}"), output);
    }
}

#[test]
fn table_without_components() {
    let opts = pg_report::RenderOptions {
        show_components: false,
        ..options(false)
    };
    let output = render_to_string(Format::Table, &report(), &opts);
    assert!(!output.contains("Critical components"));
    assert!(output.contains("kube-system/DaemonSet/kube-multus-ds-amd64"));
}
