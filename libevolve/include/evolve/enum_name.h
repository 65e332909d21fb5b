// The name of an enumerator from a table of names indexed by its value, for
// enums whose enumerators run 0, 1, 2, ... in declaration order:
//
//   const char* PhaseName(Phase phase) {
//     static constexpr const char* kNames[] = {"load", "fit", "score"};
//     return EnumName<Phase::kScore>(phase, kNames, "unknown");
//   }
//
// The last enumerator is named so that a table that misses one, or has one
// too many, does not compile.
#ifndef EVOLVE_ENUM_NAME_H_
#define EVOLVE_ENUM_NAME_H_

#include <cstddef>
#include <type_traits>

namespace evolve {

// names[value], or `fallback` for a value outside the table (an integer cast
// to the enum). `names` holds one name per enumerator up to `Last`.
template <auto Last, std::size_t N>
constexpr const char* EnumName(decltype(Last) value, const char* const (&names)[N], const char* fallback) {
  using E = decltype(Last);
  static_assert(std::is_enum_v<E>, "EnumName names enumerators");
  static_assert(N == static_cast<std::size_t>(Last) + 1, "one name per enumerator, up to Last");
  // A negative value wraps to a large index, which the table does not hold.
  const auto index = static_cast<std::size_t>(static_cast<std::underlying_type_t<E>>(value));
  return index < N ? names[index] : fallback;
}

}  // namespace evolve

#endif  // EVOLVE_ENUM_NAME_H_
