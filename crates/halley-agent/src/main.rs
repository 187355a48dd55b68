fn main() {
    eprintln!("halley-agent: not built yet");
    std::process::exit(2);
}
