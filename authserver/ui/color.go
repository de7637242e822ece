package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rgb is an sRGB color with 8-bit channels.
type rgb struct{ r, g, b uint8 }

// parseHexColor accepts "#rgb" or "#rrggbb" (any case) and nothing else: no
// names, no alpha, no functions. Whatever it accepts is safe to write into a
// stylesheet verbatim, but callers use hex() to write a normalised form.
func parseHexColor(s string) (rgb, error) {
	if !strings.HasPrefix(s, "#") || (len(s) != 4 && len(s) != 7) {
		return rgb{}, fmt.Errorf("%q is not a CSS hex color (#rgb or #rrggbb)", s)
	}
	digits := s[1:]
	if len(digits) == 3 {
		digits = string([]byte{digits[0], digits[0], digits[1], digits[1], digits[2], digits[2]})
	}
	v, err := strconv.ParseUint(digits, 16, 32)
	if err != nil {
		return rgb{}, fmt.Errorf("%q is not a CSS hex color (#rgb or #rrggbb)", s)
	}
	return rgb{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// rgba renders c with an alpha channel, for tints.
func (c rgb) rgba(alpha float64) string {
	return fmt.Sprintf("rgba(%d,%d,%d,%s)", c.r, c.g, c.b, strconv.FormatFloat(alpha, 'f', -1, 64))
}

// luminance is the WCAG 2.x relative luminance of c.
func (c rgb) luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrast is the WCAG 2.x contrast ratio between a and b (1 to 21).
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// minContrast is the lowest contrast of c against any of the backgrounds.
func minContrast(c rgb, bgs ...rgb) float64 {
	m := math.Inf(1)
	for _, bg := range bgs {
		m = min(m, contrast(c, bg))
	}
	return m
}

// mix moves c towards target by t (0 = c, 1 = target), in sRGB space.
func mix(c, target rgb, t float64) rgb {
	ch := func(a, b uint8) uint8 {
		return uint8(math.Round(float64(a) + (float64(b)-float64(a))*t))
	}
	return rgb{ch(c.r, target.r), ch(c.g, target.g), ch(c.b, target.b)}
}

// towards mixes c with target in small steps until it reaches the wanted
// contrast against every background, and returns the first color that does
// (target itself if none before it does).
func towards(c, target rgb, want float64, bgs ...rgb) rgb {
	for i := 0; i <= 40; i++ {
		m := mix(c, target, float64(i)/40)
		if minContrast(m, bgs...) >= want {
			return m
		}
	}
	return target
}

var (
	white = rgb{0xff, 0xff, 0xff}
	black = rgb{0x00, 0x00, 0x00}
	// ink is the dark text color used on light primary colors; it matches
	// --gh-text of the light theme.
	ink = rgb{0x16, 0x18, 0x1d}
)

// Backgrounds of the embedded stylesheet that primary-colored text, focus
// rings and buttons sit on. They must match the custom properties in
// assets/gatehouse.css (--gh-bg, --gh-surface, --gh-surface-2).
var (
	lightBackgrounds = []rgb{{0xf4, 0xf5, 0xf7}, {0xff, 0xff, 0xff}, {0xf7, 0xf8, 0xfa}}
	darkBackgrounds  = []rgb{{0x0e, 0x10, 0x14}, {0x17, 0x1a, 0x20}, {0x1e, 0x22, 0x2a}}
)

// defaultPrimary is the calm blue used when no PrimaryColor is configured.
const defaultPrimary = "#2563eb"

// themeColors are the primary-derived colors of one theme.
type themeColors struct {
	primary   rgb // button fill
	hover     rgb // button fill on hover
	onPrimary rgb // text on the button fill
	text      rgb // links, focus rings, icons on the page surfaces
}

// palette derives readable colors from the configured primary color for the
// light and the dark theme:
//   - the text on a primary button is white or near-black, whichever has the
//     higher contrast (black where near-black falls short of 4.5:1);
//   - links and focus rings use the primary color darkened (light theme) or
//     lightened (dark theme) just enough to reach 4.5:1 on every surface;
//   - in the dark theme a primary too dark to stand out (less than 3:1
//     against the dark surfaces) is lightened until it does.
type palette struct{ light, dark themeColors }

func newPalette(primary rgb) palette {
	light := themeColors{primary: primary}
	light.text = towards(primary, black, 4.5, lightBackgrounds...)

	dark := themeColors{primary: primary}
	if minContrast(primary, darkBackgrounds...) < 3 {
		dark.primary = towards(primary, white, 3, darkBackgrounds...)
	}
	dark.text = towards(dark.primary, white, 4.5, darkBackgrounds...)

	for _, t := range []*themeColors{&light, &dark} {
		t.onPrimary = white
		if contrast(ink, t.primary) > contrast(white, t.primary) {
			t.onPrimary = ink
			if contrast(ink, t.primary) < 4.5 { // mid greys: ink is not quite enough
				t.onPrimary = black
			}
		}
		// Hover darkens a fill carrying light text and lightens one carrying
		// dark text, so the text keeps (or gains) contrast.
		if t.onPrimary == white {
			t.hover = mix(t.primary, black, 0.14)
		} else {
			t.hover = mix(t.primary, white, 0.18)
		}
	}
	return palette{light: light, dark: dark}
}

// css renders the palette as custom properties for the stylesheet.
func (p palette) css() string {
	var b strings.Builder
	b.WriteString("/* Branding: generated by Gatehouse from the configured primary color. */\n")
	writeVars := func(indent string, t themeColors, soft float64) {
		fmt.Fprintf(&b, "%s--gh-primary: %s;\n", indent, t.primary.hex())
		fmt.Fprintf(&b, "%s--gh-primary-hover: %s;\n", indent, t.hover.hex())
		fmt.Fprintf(&b, "%s--gh-on-primary: %s;\n", indent, t.onPrimary.hex())
		fmt.Fprintf(&b, "%s--gh-primary-text: %s;\n", indent, t.text.hex())
		fmt.Fprintf(&b, "%s--gh-primary-soft: %s;\n", indent, t.text.rgba(soft))
	}
	b.WriteString(":root {\n")
	writeVars("  ", p.light, 0.1)
	b.WriteString("}\n@media (prefers-color-scheme: dark) {\n  :root {\n")
	writeVars("    ", p.dark, 0.16)
	b.WriteString("  }\n}\n")
	return b.String()
}
