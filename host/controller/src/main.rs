//! `aviary-controller`: the controller a cluster operator deploys (issue 5).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("aviary-controller is not built yet: see issue 5")
}
