// The built-in engines behind the core interfaces (filled in by the engines work).
namespace evolve::engines {}
