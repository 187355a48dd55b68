//! `engine1/file`: paths from `INCLUDE*`, less `EXCLUDE*` globs and
//! `REXCLUDE*` regular expressions; `RESCAN_UNCHANGED` reads every file
//! even when it looks unchanged.

use halley_vault::Selection;

use super::{EngineContext, EngineError, EngineOutcome};

pub fn run(ctx: &EngineContext<'_>) -> Result<EngineOutcome, EngineError> {
    let selection = Selection::from_engine_props(&ctx.source.engine_props)?;
    if selection.includes.is_empty() {
        return Err(EngineError::Failed(
            "the Protected Item includes no path (EngineProps INCLUDE…)".into(),
        ));
    }
    for missing in selection.includes.iter().filter(|p| !p.exists()) {
        (ctx.log)(
            super::LogLevel::Warning,
            format!("{} does not exist", missing.display()),
        );
    }
    let snapshot = halley_vault::backup(ctx.repo, &selection, &ctx.options(), ctx.progress)?;
    Ok(snapshot.into())
}
