/* Placeholder translation unit so a layer with no sources yet still forms a library.
 * Owned by the build: CMake uses it only when a src/ folder is empty. */
typedef int pic_empty_translation_unit;
