fn main() -> std::process::ExitCode {
    smcache::main()
}
