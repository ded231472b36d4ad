#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace gatehouse::ui {

// The pages, each a template (ui/template.hpp: escaping on by default) rendered inside the
// layout. `data` holds the page's values plus "brand", "title" and, for a signed-in viewer,
// "viewer": {"username", "console", "csrf"}. A view's values are listed beside its template in
// views.cpp. An unknown name is a programming error (std::logic_error).
std::string view(std::string_view name, boost::json::object data);
// The body of a view alone, without the layout (for a part of a page, such as the chart).
std::string fragment(std::string_view name, const boost::json::object& data);
// Every view's name: the tests render each one.
std::vector<std::string_view> viewNames();

}  // namespace gatehouse::ui
