//! A progress bar on standard error when it is a terminal; silence otherwise.

use std::io::IsTerminal;

use halley_vault::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(total: Option<u64>) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar { bar: None };
        }
        let bar = ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Bar { bar: Some(bar) }
    }

    pub fn update(&self, p: &Progress) {
        if let Some(bar) = &self.bar {
            let total = p
                .total_bytes
                .map(|t| format!(" of {}", HumanBytes(t)))
                .unwrap_or_default();
            bar.set_message(format!(
                "{} files, {}{total}, {}/s, {} new  {}",
                p.files,
                HumanBytes(p.bytes),
                HumanBytes(p.bytes_per_second() as u64),
                HumanBytes(p.new_bytes),
                p.current
            ));
            bar.tick();
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
