//! moto in server mode, the AWS-API stand-in of `tests/lambda_alias.rs`: started on a free
//! 127.0.0.1 port, driven with `tests/aws/stand_in.py` (boto3), killed when dropped. moto does not
//! check signatures, weights or versions, and computes no percentiles: what the plugins check
//! themselves and the SigV4 test vectors cover what it does not.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::haproxy::free_address;
use super::root;

pub struct StandIn {
    pub address: SocketAddr,
    child: Child,
}

impl StandIn {
    /// Starts moto (installed by `scripts/setup-services.sh`) and waits until it answers.
    pub fn start() -> StandIn {
        let address = free_address();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &address.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto (python3 -m moto.server; scripts/setup-services.sh installs it)");
        let stand_in = StandIn { address, child };
        let started = Instant::now();
        while TcpStream::connect(address).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not listen on {address} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        stand_in
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `tests/aws/stand_in.py ENDPOINT args...`, which must succeed; its standard output.
    pub fn script(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run tests/aws/stand_in.py");
        assert!(out.status.success(), "stand_in.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The script as a command, to run in the background.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("python3");
        cmd.arg(root().join("tests/aws/stand_in.py")).arg(self.endpoint()).args(args);
        cmd
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
