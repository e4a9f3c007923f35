fn main() -> std::process::ExitCode {
    pg_cli::main_as("priorityguard")
}
