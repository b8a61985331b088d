int main() { return 0; } // scaffolding, replaced by the real CLI
