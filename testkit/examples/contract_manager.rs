//! The contract manager (`testkit::hinemos`) as a process, to try `kura
//! nodes` by hand: prints its URL and the password file it wrote, and
//! answers until its standard input closes.
//!
//! ```sh
//! cargo run -p testkit --example contract_manager
//! ```

use std::io::Read;

fn main() -> std::io::Result<()> {
    let manager = testkit::hinemos::ContractManager::start()?;
    let password = std::env::temp_dir().join(format!("kura-contract-manager-{}.password", std::process::id()));
    std::fs::write(&password, testkit::hinemos::PASSWORD)?;
    println!("{} --user {} --password-file {}", manager.url(), testkit::hinemos::USER, password.display());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let _ = std::fs::remove_file(&password);
    Ok(())
}
