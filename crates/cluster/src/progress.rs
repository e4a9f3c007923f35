//! The progress bar shown while listing a large cluster.
//!
//! The total is not known up front: each kind's first page says how many items remain
//! (`metadata.remainingItemCount`), so the bar's length grows as kinds report in. It draws on
//! stderr only (stdout may be a JSON report) and indicatif hides it when stderr is no terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(enabled: bool, server: &str) -> Progress {
        let bar = if enabled {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} reading {msg}: {human_pos}/{human_len} objects [{elapsed}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(server.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }

    /// The bar of a multi-cluster run: clusters read out of `total`, naming the last one.
    pub fn clusters(enabled: bool, total: u64) -> Progress {
        let bar = if enabled {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} reading clusters: {pos}/{len} [{elapsed}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }

    /// One cluster of a multi-cluster run is read; its context name comes from the kubeconfig,
    /// so it is shown escaped.
    pub fn cluster_done(&self, context: &str) {
        self.bar
            .set_message(pg_model::visible(context).into_owned());
        self.bar.inc(1);
    }

    /// Runs `f` with the bar hidden, so what it writes on stderr is not drawn over.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// A page of `items` arrived; `more` (from the first page) are still to come.
    pub fn page(&self, items: u64, expected_more: Option<u64>) {
        self.bar.inc_length(items + expected_more.unwrap_or(0));
        self.bar.inc(items);
    }

    /// A later page: its items were already counted in the length by the first page's estimate
    /// (when there was one); keep the length at least the position.
    pub fn later_page(&self, items: u64, estimated: bool) {
        if !estimated {
            self.bar.inc_length(items);
        }
        self.bar.inc(items);
        if let Some(len) = self.bar.length()
            && len < self.bar.position()
        {
            self.bar.set_length(self.bar.position());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
