//! The fixer (pg-fix): audit any text, fix it, and the result must parse again and be
//! left alone by a second fix (a fix that breaks the file or keeps changing it is a bug).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_fix::{Fixer, Options, Source};

/// The fixed text, if the fixer changed anything.
fn fix(text: &str, catalog: &Catalog, config: &Config) -> Option<String> {
    let source = Source::stdin(text.to_string());
    let objects = pg_fix::read_objects(&source).ok()?;
    let audit = pg_checks::audit(&objects, catalog, config);
    let fixer = Fixer::new(&objects, catalog, config, Options::default());
    let plan = fixer.plan(&audit.findings, |_| Ok(source.clone()));
    fixer.apply(plan).files.into_iter().next().map(|f| f.after)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Policy::default();
    let catalog = Catalog::builtin();
    let config = Config::new(false, &policy);
    if let Some(after) = fix(text, &catalog, &config) {
        pg_yaml::parse_stream(&after, |_| {}).expect("the fixed text parses");
        assert_eq!(
            fix(&after, &catalog, &config),
            None,
            "a second fix changed it again"
        );
    }
});
