//! Writes the console's TypeScript types (`ui/src/backend/api.generated.ts`) from opsdeck-api's
//! types. Run from anywhere in the workspace: `cargo run -p opsdeck-api --bin opsdeck-gen-ts`.

use std::path::Path;
use std::process::ExitCode;

use opsdeck_api::typescript;

fn main() -> ExitCode {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(typescript::PATH);
    let text = typescript::typescript();
    let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
    if unchanged {
        println!("{} is up to date", typescript::PATH);
        return ExitCode::SUCCESS;
    }
    match std::fs::write(&path, text) {
        Ok(()) => {
            println!("wrote {}", typescript::PATH);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
