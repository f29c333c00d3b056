//! The `maildesk` binary: parses the command line and hands over to the library.

fn main() {
    maildesk::memory::large_blocks_to_the_system();
    std::process::exit(maildesk::cli::main());
}
