//! `aviary-controller`: the program a cluster operator deploys (its command line is
//! `aviary_controller::cli`, which the `aviary` CLI also runs as `aviary controller`).

fn main() -> anyhow::Result<()> {
    aviary_controller::cli::main(std::env::args_os())?;
    Ok(())
}
